"""SQLite backend of the conversation store: `SQLiteStore`, one long-lived aiosqlite connection, WAL.

One module per concern: `connection` (open, pragmas, migrations), `schema` (the tables),
`messages`, `conversations`, `escalations`, `stats`, `privacy` (forgetting, retention),
`analytics` (answer facts, staff messages, learned entries), `rows`
(rows to records), `transaction`, `migrate` (the SQLite side of `bot.storage.migrations`).
"""

from __future__ import annotations

from bot.storage.sqlite.analytics import SQLiteAnalytics
from bot.storage.sqlite.conversations import SQLiteConversations
from bot.storage.sqlite.escalations import SQLiteEscalations
from bot.storage.sqlite.messages import SQLiteMessages
from bot.storage.sqlite.privacy import SQLitePrivacy
from bot.storage.sqlite.stats import SQLiteStats

__all__ = ["SQLiteStore"]


class SQLiteStore(
    SQLiteMessages, SQLiteConversations, SQLiteEscalations, SQLiteStats, SQLitePrivacy, SQLiteAnalytics
):
    """ConversationStore on one SQLite file. Writes that span statements are serialised by a lock."""
