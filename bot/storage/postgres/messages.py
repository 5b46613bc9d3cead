"""The Postgres store's messages: inbound with dedupe, replies and their delivery, history, feedback."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.events import IncomingMessage, ThreadKey, Usage
from bot.storage.postgres.connection import PostgresConnection
from bot.storage.postgres.locks import USER, advisory_key
from bot.storage.postgres.rows import (
    MESSAGE_COLUMNS,
    THREAD_KEY_COLUMNS,
    aliased,
    key_parts,
    message,
    now,
    prefixed,
    storable,
    thread_key,
)
from bot.storage.store import TOO_FAST, ConversationState, MessageStatus, Outgoing, Role, StoredMessage


class PostgresMessages(PostgresConnection):
    """The message half of `PostgresStore`."""

    async def record_inbound(self, msg: IncomingMessage, tokens: int) -> StoredMessage | None:
        at = now()
        text, user_id, user_name = storable(msg.text), storable(msg.user_id), storable(msg.user_name)
        message_id = storable(msg.message_id)
        async with self.pool.acquire() as conn:
            # The conversation upsert is idempotent; the message insert alone decides "new or
            # duplicate", against the unique index, whichever instance the delivery reached.
            conv = await conn.fetchrow(
                "INSERT INTO conversations (platform, workspace, channel, thread, created_at, updated_at)"
                " VALUES ($1, $2, $3, $4, $5, $5)"
                " ON CONFLICT (platform, workspace, channel, thread)"
                " DO UPDATE SET updated_at = excluded.updated_at RETURNING id, state",
                *key_parts(msg.key),
                at,
            )
            assert conv is not None
            # One user's messages are stored one at a time on every instance (the statement holds
            # the user's lock until it commits), so ids follow commit order: when a message's rate
            # check counts the user's messages stored before it, none of them is still uncommitted.
            new_id = await conn.fetchval(
                "INSERT INTO messages (conversation_id, platform, platform_message_id, role, text,"
                " user_id, user_name, status, tokens, created_at, updated_at, owner)"
                " SELECT $1, $2, $3, 'user', $4, $5, $6, 'received', $7, $8, $8, $9"
                " FROM (SELECT pg_advisory_xact_lock($10)) AS turn"
                " ON CONFLICT (platform, platform_message_id)"
                " WHERE role = 'user' AND platform_message_id IS NOT NULL DO NOTHING RETURNING id",
                conv["id"],
                storable(msg.key.platform),
                message_id,
                text,
                user_id,
                user_name,
                tokens,
                at,
                self.instance,
                advisory_key(f"{USER}{msg.key.platform}:{msg.user_id}"),
            )
        if new_id is None:
            return None
        return StoredMessage(
            id=new_id,
            conversation_id=conv["id"],
            role=Role.USER,
            text=text,
            user_id=user_id,
            user_name=user_name,
            status=MessageStatus.RECEIVED,
            tokens=tokens,
            created_at=at,
            platform_message_id=message_id,
            handed_over=conv["state"] != ConversationState.BOT,
        )

    async def history(self, conversation_id: int, before_id: int, limit: int) -> list[StoredMessage]:
        # As the SQLite backend: answered user turns before this one, and replies to anything before it.
        rows = await self.pool.fetch(
            f"SELECT {MESSAGE_COLUMNS} FROM messages"
            " WHERE conversation_id = $1 AND id != $2"
            " AND ((role = 'user' AND id < $2 AND status IN ('answered', 'handed_over'))"
            "   OR (role = 'staff' AND id < $2)"
            "   OR (role = 'assistant' AND reply_to < $2))"
            " ORDER BY id DESC LIMIT $3",
            conversation_id,
            before_id,
            limit,
        )
        return [message(r) for r in rows]

    async def sent_since(self, platform: str, user_id: str, since: datetime, before_id: int) -> int:
        count = await self.pool.fetchval(  # messages_by_user, from the newest id down
            "SELECT COUNT(*) FROM messages WHERE role = 'user' AND platform = $1 AND user_id = $2"
            " AND id < $3 AND created_at >= $4 AND coalesce(error, '') != $5",
            platform,
            user_id,
            before_id,
            since,
            TOO_FAST,
        )
        return int(count)

    async def set_status(self, message_id: int, status: MessageStatus, error: str | None = None) -> None:
        await self.pool.execute(
            "UPDATE messages SET status = $1, error = $2, updated_at = $3 WHERE id = $4",
            status.value,
            error,
            now(),
            message_id,
        )

    async def record_reply(
        self,
        inbound: StoredMessage,
        role: Role,
        text: str,
        tokens: int,
        usage: Usage | None,
        *,
        settles: MessageStatus,
        error: str | None = None,
    ) -> int:
        at = now()
        async with self.pool.acquire() as conn, conn.transaction():
            reply_id = await conn.fetchval(
                "INSERT INTO messages (conversation_id, platform, role, text, status, error, reply_to,"
                " tokens, model, prompt_tokens, completion_tokens, cost_usd, created_at, updated_at)"
                " SELECT $1, platform, $2, $3, 'pending', $4, $5, $6, $7, $8, $9, $10, $11, $11"
                " FROM conversations WHERE id = $1 RETURNING id",
                inbound.conversation_id,
                role.value,
                storable(text),
                error,
                inbound.id,
                tokens,
                usage.model if usage else None,
                usage.prompt_tokens if usage else None,
                usage.completion_tokens if usage else None,
                usage.cost_usd if usage else None,
                at,
            )
            if reply_id is None:
                raise RuntimeError(f"conversation {inbound.conversation_id} does not exist")
            await conn.execute(
                "UPDATE messages SET status = $1, error = $2, updated_at = $3 WHERE id = $4",
                settles.value,
                error,
                at,
                inbound.id,
            )
        return int(reply_id)

    async def mark_delivered(self, message_id: int, platform_message_id: str | None) -> None:
        await self.pool.execute(
            "UPDATE messages SET status = 'delivered', platform_message_id = $1, updated_at = $2"
            " WHERE id = $3",
            platform_message_id,
            now(),
            message_id,
        )

    async def set_user_name(self, message_id: int, user_name: str) -> None:
        await self.pool.execute(
            "UPDATE messages SET user_name = $1 WHERE id = $2 AND role = 'user'",
            storable(user_name),
            message_id,
        )

    async def note_shown(self, inbound_id: int, platform_ids: Sequence[str]) -> None:
        await self.pool.execute(
            "UPDATE messages SET shown_as = $1 WHERE id = $2",
            storable(" ".join(platform_ids)) or None,
            inbound_id,
        )

    async def undelivered(self, since: datetime, due: datetime) -> list[Outgoing]:
        # A plain read: only the leader sweeps the outbox (bot/background.py), so no claim is taken.
        rows = await self.pool.fetch(
            f"SELECT {aliased(MESSAGE_COLUMNS, 'r', 'r_')}, {aliased(MESSAGE_COLUMNS, 'm', 'm_')},"
            f" {THREAD_KEY_COLUMNS}, r.attempts AS r_attempts"
            " FROM messages r JOIN messages m ON m.id = r.reply_to"
            " JOIN conversations c ON c.id = r.conversation_id"
            " WHERE r.status = 'pending' AND r.created_at >= $1"
            " AND (r.retry_at IS NULL OR r.retry_at <= $2) ORDER BY r.id",
            since,
            due,
        )
        return [
            Outgoing(message(r, "r_"), message(r, "m_"), thread_key(r), int(r["r_attempts"])) for r in rows
        ]

    async def retry_later(self, reply_id: int, error: str, retry_at: datetime) -> None:
        await self.pool.execute(
            "UPDATE messages SET attempts = attempts + 1, error = $1, retry_at = $2, updated_at = $3"
            " WHERE id = $4 AND status = 'pending'",
            storable(error),
            retry_at,
            now(),
            reply_id,
        )

    async def messages(self, conversation_id: int, limit: int) -> list[StoredMessage]:
        rows = await self.pool.fetch(
            f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = $1 ORDER BY id DESC LIMIT $2",
            conversation_id,
            limit,
        )
        return [message(r) for r in reversed(rows)]

    async def unanswered_between(
        self, since: datetime, before: datetime
    ) -> list[tuple[StoredMessage, ThreadKey]]:
        rows = await self.pool.fetch(
            f"SELECT {prefixed(MESSAGE_COLUMNS, 'm')}, {THREAD_KEY_COLUMNS}"
            " FROM messages m JOIN conversations c ON c.id = m.conversation_id"
            " WHERE m.status = 'received' AND m.role = 'user' AND m.created_at >= $1"
            " AND m.created_at < $2"
            " AND NOT EXISTS (SELECT 1 FROM messages r WHERE r.reply_to = m.id) ORDER BY m.id",
            since,
            before,
        )
        return [(message(r), thread_key(r)) for r in rows]

    async def record_feedback(self, message_id: int, user_id: str, value: int) -> None:
        await self.pool.execute(
            "INSERT INTO feedback (message_id, user_id, value, created_at) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (message_id, user_id) DO UPDATE SET value = excluded.value",
            message_id,
            storable(user_id),
            value,
            now(),
        )
