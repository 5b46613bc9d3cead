"""SQLite backend of the conversation store: `SQLiteStore`, one long-lived aiosqlite connection, WAL.

One module per concern: `connection` (open, pragmas, migrations), `schema` (the tables),
`messages`, `conversations`, `escalations`, `stats`, `spend` (holds on today's spend, in memory),
`privacy` (forgetting, retention), `coordination` (one process per file: the sweep's bound, no-op
cross-process locks), `analytics` (answer facts, staff messages, learned entries), `rows` (rows to
records), `transaction`, `migrate` (the SQLite side of `bot.storage.migrations`).
"""

from __future__ import annotations

from bot.storage.sqlite.analytics import SQLiteAnalytics
from bot.storage.sqlite.conversations import SQLiteConversations
from bot.storage.sqlite.coordination import SQLiteCoordination
from bot.storage.sqlite.escalations import SQLiteEscalations
from bot.storage.sqlite.messages import SQLiteMessages
from bot.storage.sqlite.privacy import SQLitePrivacy
from bot.storage.sqlite.spend import SQLiteSpend

__all__ = ["SQLiteStore"]


class SQLiteStore(
    SQLiteCoordination,
    SQLiteMessages,
    SQLiteConversations,
    SQLiteEscalations,
    SQLiteSpend,
    SQLitePrivacy,
    SQLiteAnalytics,
):
    """ConversationStore on one SQLite file. Writes that span statements are serialised by a lock."""
