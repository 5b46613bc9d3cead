"""Postgres backend of the conversation store: `PostgresStore` on asyncpg pools, shareable by instances.

One module per concern, as the SQLite backend: `connection` (pools, open, migrations), `schema`
(the tables), `migrate` (the Postgres side of `bot.storage.migrations`), `locks` (advisory lock
keys), `messages`, `conversations`, `escalations`, `stats`, `spend` (holds on today's spend, in a
table), `privacy` (forgetting, retention), `coordination` (several instances: conversation order,
job leaders, what a dead instance left), `analytics` (answer facts, staff messages, learned
entries), `rows` (rows to records), `copy` (an SQLite database into Postgres).
"""

from __future__ import annotations

from bot.storage.postgres.analytics import PostgresAnalytics
from bot.storage.postgres.conversations import PostgresConversations
from bot.storage.postgres.coordination import PostgresCoordination
from bot.storage.postgres.escalations import PostgresEscalations
from bot.storage.postgres.messages import PostgresMessages
from bot.storage.postgres.privacy import PostgresPrivacy
from bot.storage.postgres.spend import PostgresSpend

__all__ = ["PostgresStore"]


class PostgresStore(
    PostgresMessages,
    PostgresConversations,
    PostgresEscalations,
    PostgresSpend,
    PostgresPrivacy,
    PostgresCoordination,
    PostgresAnalytics,
):
    """ConversationStore on one Postgres database; several processes may share it."""
