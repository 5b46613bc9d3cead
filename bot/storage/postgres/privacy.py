"""The Postgres store's deletions: one person's data on request (`forget_user`) and old conversations
past database.retention_days (`purge_before`). Each runs in one transaction."""

from __future__ import annotations

from datetime import datetime

from bot.storage.postgres.connection import PostgresConnection
from bot.storage.postgres.rows import changed
from bot.storage.store import Removed

# The user's own messages on one platform ($1) by one user ($2), and the bot's replies to them.
_THEIRS = "SELECT id FROM messages WHERE platform = $1 AND user_id = $2 AND role = 'user'"
_REPLIES = f"SELECT id FROM messages WHERE reply_to IN ({_THEIRS})"
# Conversations left with nothing in them (no message, no escalation) go too.
_EMPTY = (
    "NOT EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = conversations.id)"
    " AND NOT EXISTS (SELECT 1 FROM escalations e WHERE e.conversation_id = conversations.id)"
)
# Conversations last active before $1 with no open escalation.
_OLD = (
    "SELECT id FROM conversations WHERE updated_at < $1 AND NOT EXISTS (SELECT 1 FROM"
    " escalations e WHERE e.conversation_id = conversations.id AND e.resolved_at IS NULL)"
)


class PostgresPrivacy(PostgresConnection):
    """The deletion part of `PostgresStore`."""

    async def forget_user(self, platform: str, user_id: str) -> Removed:
        async with self.pool.acquire() as conn, conn.transaction():
            feedback = changed(
                await conn.execute(
                    f"DELETE FROM feedback WHERE message_id IN ({_THEIRS}) OR message_id IN ({_REPLIES})"
                    " OR (user_id = $2 AND message_id IN (SELECT id FROM messages WHERE platform = $1))",
                    platform,
                    user_id,
                )
            )
            ratings = changed(
                await conn.execute(
                    "UPDATE escalations SET satisfaction = NULL, reason = '' WHERE requested_by = $2"
                    " AND conversation_id IN (SELECT id FROM conversations WHERE platform = $1)",
                    platform,
                    user_id,
                )
            )
            replies = changed(
                await conn.execute(f"DELETE FROM messages WHERE id IN ({_REPLIES})", platform, user_id)
            )
            messages = changed(
                await conn.execute(
                    "DELETE FROM messages WHERE platform = $1 AND user_id = $2 AND role = 'user'",
                    platform,
                    user_id,
                )
            )
            conversations = changed(
                await conn.execute(f"DELETE FROM conversations WHERE platform = $1 AND {_EMPTY}", platform)
            )
        return Removed(messages + replies, feedback, ratings, 0, conversations)

    async def purge_before(self, cutoff: datetime) -> Removed:
        async with self.pool.acquire() as conn, conn.transaction():
            feedback = changed(
                await conn.execute(
                    f"DELETE FROM feedback WHERE message_id IN"
                    f" (SELECT id FROM messages WHERE conversation_id IN ({_OLD}))",
                    cutoff,
                )
            )
            await conn.execute(
                f"UPDATE messages SET reply_to = NULL WHERE conversation_id IN ({_OLD})", cutoff
            )
            messages = changed(
                await conn.execute(f"DELETE FROM messages WHERE conversation_id IN ({_OLD})", cutoff)
            )
            escalations = changed(
                await conn.execute(f"DELETE FROM escalations WHERE conversation_id IN ({_OLD})", cutoff)
            )
            conversations = changed(
                await conn.execute(f"DELETE FROM conversations WHERE id IN ({_OLD})", cutoff)
            )
        return Removed(messages, feedback, 0, escalations, conversations)
