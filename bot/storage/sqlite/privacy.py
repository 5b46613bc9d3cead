"""The SQLite store's deletions: one person's data on request (`forget_user`) and old conversations
past database.retention_days (`purge_before`). Each runs in one write transaction."""

from __future__ import annotations

from datetime import datetime

from bot.storage.sqlite.connection import SQLiteConnection
from bot.storage.sqlite.rows import stamp
from bot.storage.sqlite.transaction import write_transaction
from bot.storage.store import Removed

# The user's own messages on one platform, and the bot's replies to them.
_THEIRS = "SELECT id FROM messages WHERE platform = ? AND user_id = ? AND role = 'user'"
_REPLIES = f"SELECT id FROM messages WHERE reply_to IN ({_THEIRS})"
# Conversations left with nothing in them (no message, no escalation) go too.
_EMPTY = (
    "NOT EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = conversations.id)"
    " AND NOT EXISTS (SELECT 1 FROM escalations e WHERE e.conversation_id = conversations.id)"
)


class SQLitePrivacy(SQLiteConnection):
    """The deletion part of `SQLiteStore`."""

    async def _deleted(self, sql: str, params: tuple[object, ...]) -> int:
        cur = await self.db.execute(sql, params)
        count = max(cur.rowcount, 0)
        await cur.close()
        return count

    async def forget_user(self, platform: str, user_id: str) -> Removed:
        who = (platform, user_id)
        async with write_transaction(self.db, self._write):
            feedback = await self._deleted(
                f"DELETE FROM feedback WHERE message_id IN ({_THEIRS}) OR message_id IN ({_REPLIES})"
                " OR (user_id = ? AND message_id IN (SELECT id FROM messages WHERE platform = ?))",
                (*who, *who, user_id, platform),
            )
            ratings = await self._deleted(
                "UPDATE escalations SET satisfaction = NULL, reason = '' WHERE requested_by = ?"
                " AND conversation_id IN (SELECT id FROM conversations WHERE platform = ?)",
                (user_id, platform),
            )
            replies = await self._deleted(f"DELETE FROM messages WHERE id IN ({_REPLIES})", who)
            messages = await self._deleted(
                "DELETE FROM messages WHERE platform = ? AND user_id = ? AND role = 'user'", who
            )
            conversations = await self._deleted(
                f"DELETE FROM conversations WHERE platform = ? AND {_EMPTY}", (platform,)
            )
        return Removed(messages + replies, feedback, ratings, 0, conversations)

    async def purge_before(self, cutoff: datetime) -> Removed:
        old = (
            "SELECT id FROM conversations WHERE updated_at < ? AND NOT EXISTS (SELECT 1 FROM"
            " escalations e WHERE e.conversation_id = conversations.id AND e.resolved_at IS NULL)"
        )
        at = (stamp(cutoff),)
        async with write_transaction(self.db, self._write):
            feedback = await self._deleted(
                f"DELETE FROM feedback WHERE message_id IN"
                f" (SELECT id FROM messages WHERE conversation_id IN ({old}))",
                at,
            )
            await self._deleted(f"UPDATE messages SET reply_to = NULL WHERE conversation_id IN ({old})", at)
            messages = await self._deleted(f"DELETE FROM messages WHERE conversation_id IN ({old})", at)
            escalations = await self._deleted(f"DELETE FROM escalations WHERE conversation_id IN ({old})", at)
            conversations = await self._deleted(f"DELETE FROM conversations WHERE id IN ({old})", at)
        return Removed(messages, feedback, 0, escalations, conversations)
