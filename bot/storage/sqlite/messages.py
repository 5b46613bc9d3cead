"""The SQLite store's messages: inbound with dedupe, replies and their delivery, history, feedback."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.events import IncomingMessage, ThreadKey, Usage
from bot.storage.sqlite.connection import SQLiteConnection
from bot.storage.sqlite.rows import (
    MESSAGE_COLUMNS,
    MESSAGE_FIELDS,
    THREAD_KEY_COLUMNS,
    message,
    now,
    prefixed,
    stamp,
)
from bot.storage.store import TOO_FAST, ConversationState, MessageStatus, Outgoing, Role, StoredMessage


class SQLiteMessages(SQLiteConnection):
    """The message half of `SQLiteStore`."""

    async def record_inbound(self, msg: IncomingMessage, tokens: int) -> StoredMessage | None:
        db, key, at = self.db, msg.key, now()
        # Two statements, no transaction: the conversation upsert is idempotent, and the message
        # insert alone decides "new or duplicate". Each execute_fetchall is one worker-thread trip.
        async with self._write:
            rows = list(
                await db.execute_fetchall(
                    "INSERT INTO conversations (platform, workspace, channel, thread, created_at,"
                    " updated_at) VALUES (?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (platform, workspace, channel, thread)"
                    " DO UPDATE SET updated_at = excluded.updated_at RETURNING id, state",
                    (key.platform, key.workspace, key.channel, key.thread, at, at),
                )
            )
            conversation_id, state = int(rows[0][0]), str(rows[0][1])
            rows = list(
                await db.execute_fetchall(
                    "INSERT OR IGNORE INTO messages (conversation_id, platform, platform_message_id,"
                    " role, text, user_id, user_name, status, tokens, created_at, updated_at)"
                    " VALUES (?, ?, ?, 'user', ?, ?, ?, 'received', ?, ?, ?) RETURNING id",
                    (
                        conversation_id,
                        key.platform,
                        msg.message_id,
                        msg.text,
                        msg.user_id,
                        msg.user_name,
                        tokens,
                        at,
                        at,
                    ),
                )
            )
        inserted, message_id = len(rows), (int(rows[0][0]) if rows else None)
        if inserted != 1 or message_id is None:
            return None
        return StoredMessage(
            id=message_id,
            conversation_id=conversation_id,
            role=Role.USER,
            text=msg.text,
            user_id=msg.user_id,
            user_name=msg.user_name,
            status=MessageStatus.RECEIVED,
            tokens=tokens,
            created_at=datetime.fromisoformat(at),
            platform_message_id=msg.message_id,
            handed_over=state != ConversationState.BOT,
        )

    async def history(self, conversation_id: int, before_id: int, limit: int) -> list[StoredMessage]:
        # Answered user turns before this one, and replies to anything before it (a reply to an
        # earlier message can have a larger id than this message when both arrived together).
        rows = await self.db.execute_fetchall(
            f"SELECT {MESSAGE_COLUMNS} FROM messages"
            " WHERE conversation_id = ? AND id != ?"
            " AND ((role = 'user' AND id < ? AND status IN ('answered', 'handed_over'))"
            "   OR (role = 'staff' AND id < ?)"
            "   OR (role = 'assistant' AND reply_to < ?))"
            " ORDER BY id DESC LIMIT ?",
            (conversation_id, before_id, before_id, before_id, before_id, limit),
        )
        return [message(r) for r in rows]

    async def sent_since(self, platform: str, user_id: str, since: datetime, before_id: int) -> int:
        rows = list(
            await self.db.execute_fetchall(  # messages_by_user, from the newest id down
                "SELECT COUNT(*) FROM messages WHERE role = 'user' AND platform = ? AND user_id = ?"
                " AND id < ? AND created_at >= ? AND coalesce(error, '') != ?",
                (platform, user_id, before_id, stamp(since), TOO_FAST),
            )
        )
        return int(rows[0][0])

    async def set_status(self, message_id: int, status: MessageStatus, error: str | None = None) -> None:
        async with self._write:
            await self.db.execute(
                "UPDATE messages SET status = ?, error = ?, updated_at = ? WHERE id = ?",
                (status.value, error, now(), message_id),
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
        async with self._write:
            rows = list(
                await self.db.execute_fetchall(
                    "INSERT INTO messages (conversation_id, platform, role, text, status, error,"
                    " reply_to, tokens, model, prompt_tokens, completion_tokens, cost_usd, created_at,"
                    " updated_at) SELECT ?, platform, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?, ?"
                    " FROM conversations WHERE id = ? RETURNING id",
                    (
                        inbound.conversation_id,
                        role.value,
                        text,
                        error,
                        inbound.id,
                        tokens,
                        usage.model if usage else None,
                        usage.prompt_tokens if usage else None,
                        usage.completion_tokens if usage else None,
                        usage.cost_usd if usage else None,
                        at,
                        at,
                        inbound.conversation_id,
                    ),
                )
            )
            if not rows:
                raise RuntimeError(f"conversation {inbound.conversation_id} does not exist")
            # A second statement, not a transaction (two more round trips per answer): if the
            # process stops between the two, the reply row alone already marks the message as
            # answered for the start-up sweep (unanswered_between).
            await self.db.execute(
                "UPDATE messages SET status = ?, error = ?, updated_at = ? WHERE id = ?",
                (settles.value, error, at, inbound.id),
            )
        return int(rows[0][0])

    async def mark_delivered(self, message_id: int, platform_message_id: str | None) -> None:
        async with self._write:
            await self.db.execute(
                "UPDATE messages SET status = 'delivered', platform_message_id = ?,"
                " updated_at = ? WHERE id = ?",
                (platform_message_id, now(), message_id),
            )

    async def set_user_name(self, message_id: int, user_name: str) -> None:
        async with self._write:
            await self.db.execute(
                "UPDATE messages SET user_name = ? WHERE id = ? AND role = 'user'", (user_name, message_id)
            )

    async def note_shown(self, inbound_id: int, platform_ids: Sequence[str]) -> None:
        async with self._write:
            await self.db.execute(
                "UPDATE messages SET shown_as = ? WHERE id = ?", (" ".join(platform_ids) or None, inbound_id)
            )

    async def undelivered(self, since: datetime, due: datetime) -> list[Outgoing]:
        rows = await self.db.execute_fetchall(
            f"SELECT {prefixed(MESSAGE_COLUMNS, 'r')}, {prefixed(MESSAGE_COLUMNS, 'm')},"
            f" {THREAD_KEY_COLUMNS}, r.attempts"
            " FROM messages r JOIN messages m ON m.id = r.reply_to"
            " JOIN conversations c ON c.id = r.conversation_id"
            " WHERE r.status = 'pending' AND r.created_at >= ? AND (r.retry_at IS NULL OR r.retry_at <= ?)"
            " ORDER BY r.id",
            (stamp(since), stamp(due)),
        )
        n = MESSAGE_FIELDS
        return [
            Outgoing(message(r[:n]), message(r[n : 2 * n]), ThreadKey(*r[2 * n : 2 * n + 4]), int(r[-1]))
            for r in rows
        ]

    async def retry_later(self, reply_id: int, error: str, retry_at: datetime) -> None:
        async with self._write:
            await self.db.execute(
                "UPDATE messages SET attempts = attempts + 1, error = ?, retry_at = ?, updated_at = ?"
                " WHERE id = ? AND status = 'pending'",
                (error, stamp(retry_at), now(), reply_id),
            )

    async def messages(self, conversation_id: int, limit: int) -> list[StoredMessage]:
        rows = await self.db.execute_fetchall(
            f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? ORDER BY id DESC LIMIT ?",
            (conversation_id, limit),
        )
        return [message(r) for r in reversed(list(rows))]

    async def unanswered_between(
        self, since: datetime, before: datetime
    ) -> list[tuple[StoredMessage, ThreadKey]]:
        rows = await self.db.execute_fetchall(
            f"SELECT {prefixed(MESSAGE_COLUMNS, 'm')}, {THREAD_KEY_COLUMNS}"
            " FROM messages m JOIN conversations c ON c.id = m.conversation_id"
            " WHERE m.status = 'received' AND m.role = 'user' AND m.created_at >= ?"
            " AND m.created_at < ?"
            " AND NOT EXISTS (SELECT 1 FROM messages r WHERE r.reply_to = m.id) ORDER BY m.id",
            (stamp(since), stamp(before)),
        )
        return [(message(r[:MESSAGE_FIELDS]), ThreadKey(*r[MESSAGE_FIELDS:])) for r in rows]

    async def record_feedback(self, message_id: int, user_id: str, value: int) -> None:
        async with self._write:
            await self.db.execute(
                "INSERT INTO feedback (message_id, user_id, value, created_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (message_id, user_id) DO UPDATE SET value = excluded.value",
                (message_id, user_id, value, now()),
            )
