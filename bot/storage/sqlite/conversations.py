"""The SQLite store's conversations: one per platform thread, found by key, message or user."""

from __future__ import annotations

from datetime import datetime

from bot.events import ThreadKey
from bot.storage.sqlite.connection import SQLiteConnection
from bot.storage.sqlite.rows import CONVERSATION_COLUMNS, conversation, now, prefixed, stamp
from bot.storage.store import Conversation


class SQLiteConversations(SQLiteConnection):
    """The conversation part of `SQLiteStore`."""

    async def find_conversation(self, key: ThreadKey) -> Conversation | None:
        rows = list(
            await self.db.execute_fetchall(
                f"SELECT {CONVERSATION_COLUMNS} FROM conversations"
                " WHERE platform = ? AND workspace = ? AND channel = ? AND thread = ?",
                (key.platform, key.workspace, key.channel, key.thread),
            )
        )
        return conversation(rows[0]) if rows else None

    async def ensure_conversation(self, key: ThreadKey) -> Conversation:
        at = now()
        async with self._write:
            await self.db.execute(
                "INSERT INTO conversations (platform, workspace, channel, thread, created_at,"
                " updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (key.platform, key.workspace, key.channel, key.thread, at, at),
            )
        conv = await self.find_conversation(key)
        assert conv is not None
        return conv

    async def recent_conversations(
        self, platform: str, since: datetime, before: datetime | None = None
    ) -> list[tuple[Conversation, str | None]]:
        until = stamp(before) if before is not None else None
        rows = await self.db.execute_fetchall(
            f"SELECT {prefixed(CONVERSATION_COLUMNS, 'c')}, (SELECT m.platform_message_id FROM messages m"
            "   WHERE m.conversation_id = c.id AND m.role = 'user' AND m.platform_message_id IS NOT NULL"
            "   AND (? IS NULL OR m.created_at < ?) ORDER BY m.id DESC LIMIT 1)"
            " FROM conversations c WHERE c.platform = ? AND c.updated_at >= ? ORDER BY c.id",
            (until, until, platform, stamp(since)),
        )
        return [(conversation(r[:-1]), r[-1]) for r in rows]

    async def conversation_of_message(self, message_id: int) -> Conversation | None:
        rows = list(
            await self.db.execute_fetchall(
                f"SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id ="
                " (SELECT conversation_id FROM messages WHERE id = ?)",
                (message_id,),
            )
        )
        return conversation(rows[0]) if rows else None

    async def latest_conversation_of_user(
        self, platform: str, workspace: str, channel: str, user_id: str
    ) -> Conversation | None:
        rows = list(
            await self.db.execute_fetchall(
                f"SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id = ("
                " SELECT m.conversation_id FROM messages m"
                " JOIN conversations c ON c.id = m.conversation_id"
                " WHERE m.platform = ? AND m.user_id = ? AND m.role = 'user'"
                " AND c.workspace = ? AND c.channel = ? ORDER BY m.id DESC LIMIT 1)",
                (platform, user_id, workspace, channel),
            )
        )
        return conversation(rows[0]) if rows else None

    async def asker_of(self, reply_id: int) -> tuple[Conversation, str] | None:
        rows = list(
            await self.db.execute_fetchall(
                "SELECT q.user_id FROM messages r JOIN messages q ON q.id = r.reply_to"
                " WHERE r.id = ? AND r.role != 'user'",
                (reply_id,),
            )
        )
        conv = await self.conversation_of_message(reply_id) if rows else None
        return (conv, str(rows[0][0])) if conv is not None else None

    async def took_part(self, conversation_id: int, user_id: str) -> bool:
        rows = await self.db.execute_fetchall(
            "SELECT 1 FROM messages WHERE conversation_id = ? AND user_id = ? AND role = 'user' LIMIT 1",
            (conversation_id, user_id),
        )
        return bool(list(rows))
