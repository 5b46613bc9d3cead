"""The Postgres store's conversations: one per platform thread, found by key, message or user."""

from __future__ import annotations

from datetime import datetime

from bot.events import ThreadKey
from bot.storage.postgres.connection import PostgresConnection
from bot.storage.postgres.rows import CONVERSATION_COLUMNS, conversation, key_parts, now, prefixed
from bot.storage.store import Conversation


class PostgresConversations(PostgresConnection):
    """The conversation part of `PostgresStore`."""

    async def find_conversation(self, key: ThreadKey) -> Conversation | None:
        row = await self.pool.fetchrow(
            f"SELECT {CONVERSATION_COLUMNS} FROM conversations"
            " WHERE platform = $1 AND workspace = $2 AND channel = $3 AND thread = $4",
            *key_parts(key),
        )
        return conversation(row) if row is not None else None

    async def ensure_conversation(self, key: ThreadKey) -> Conversation:
        await self.pool.execute(
            "INSERT INTO conversations (platform, workspace, channel, thread, created_at, updated_at)"
            " VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT DO NOTHING",
            *key_parts(key),
            now(),
        )
        conv = await self.find_conversation(key)
        assert conv is not None
        return conv

    async def recent_conversations(
        self, platform: str, since: datetime, before: datetime | None = None
    ) -> list[tuple[Conversation, str | None]]:
        rows = await self.pool.fetch(
            f"SELECT {prefixed(CONVERSATION_COLUMNS, 'c')}, (SELECT m.platform_message_id FROM messages m"
            "   WHERE m.conversation_id = c.id AND m.role = 'user' AND m.platform_message_id IS NOT NULL"
            "   AND ($3::timestamptz IS NULL OR m.created_at < $3) ORDER BY m.id DESC LIMIT 1) AS latest"
            " FROM conversations c WHERE c.platform = $1 AND c.updated_at >= $2 ORDER BY c.id",
            platform,
            since,
            before,
        )
        return [(conversation(r), r["latest"]) for r in rows]

    async def conversation_of_message(self, message_id: int) -> Conversation | None:
        row = await self.pool.fetchrow(
            f"SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id ="
            " (SELECT conversation_id FROM messages WHERE id = $1)",
            message_id,
        )
        return conversation(row) if row is not None else None

    async def latest_conversation_of_user(
        self, platform: str, workspace: str, channel: str, user_id: str
    ) -> Conversation | None:
        row = await self.pool.fetchrow(
            f"SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id = ("
            " SELECT m.conversation_id FROM messages m"
            " JOIN conversations c ON c.id = m.conversation_id"
            " WHERE m.platform = $1 AND m.user_id = $2 AND m.role = 'user'"
            " AND c.workspace = $3 AND c.channel = $4 ORDER BY m.id DESC LIMIT 1)",
            platform,
            user_id,
            workspace,
            channel,
        )
        return conversation(row) if row is not None else None

    async def asker_of(self, reply_id: int) -> tuple[Conversation, str] | None:
        asker = await self.pool.fetchval(
            "SELECT q.user_id FROM messages r JOIN messages q ON q.id = r.reply_to"
            " WHERE r.id = $1 AND r.role != 'user'",
            reply_id,
        )
        conv = await self.conversation_of_message(reply_id) if asker is not None else None
        return (conv, str(asker)) if conv is not None else None

    async def took_part(self, conversation_id: int, user_id: str) -> bool:
        found = await self.pool.fetchval(
            "SELECT 1 FROM messages WHERE conversation_id = $1 AND user_id = $2 AND role = 'user' LIMIT 1",
            conversation_id,
            user_id,
        )
        return found is not None
