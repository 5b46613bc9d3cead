"""SQLite backend of the conversation store: one long-lived aiosqlite connection, WAL, versioned schema."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosqlite

from bot.events import IncomingMessage, ThreadKey, Usage
from bot.handoff.states import EscalationState, Trigger
from bot.storage.store import (
    Conversation,
    ConversationState,
    EscalationRecord,
    MessageStatus,
    ModelStats,
    Role,
    Stats,
    StoredMessage,
)

# Each entry migrates the schema from version i to i + 1 (PRAGMA user_version); append, never edit.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE conversations (
        id INTEGER PRIMARY KEY,
        platform TEXT NOT NULL,
        workspace TEXT NOT NULL,
        channel TEXT NOT NULL,
        thread TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'bot',
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        UNIQUE (platform, workspace, channel, thread)
    );
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        conversation_id INTEGER NOT NULL REFERENCES conversations (id),
        platform TEXT NOT NULL,
        platform_message_id TEXT,
        role TEXT NOT NULL,
        text TEXT NOT NULL,
        user_id TEXT NOT NULL DEFAULT '',
        user_name TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL,
        error TEXT,
        reply_to INTEGER REFERENCES messages (id),
        tokens INTEGER NOT NULL DEFAULT 0,
        model TEXT,
        prompt_tokens INTEGER,
        completion_tokens INTEGER,
        cost_usd REAL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    -- A platform delivers a user message at most once as far as we are concerned.
    CREATE UNIQUE INDEX messages_inbound_once ON messages (platform, platform_message_id)
        WHERE role = 'user' AND platform_message_id IS NOT NULL;
    -- History is read newest first within one conversation.
    CREATE INDEX messages_by_conversation ON messages (conversation_id, id);
    """,
    """
    CREATE TABLE escalations (
        id INTEGER PRIMARY KEY,
        conversation_id INTEGER NOT NULL REFERENCES conversations (id),
        state TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT '',
        trigger TEXT NOT NULL,
        requested_by TEXT NOT NULL,
        requested_at TEXT NOT NULL,
        claimed_by TEXT,
        claimed_at TEXT,
        resolved_by TEXT,
        resolved_at TEXT
    );
    -- At most one open escalation per conversation.
    CREATE UNIQUE INDEX escalations_open ON escalations (conversation_id) WHERE resolved_at IS NULL;
    CREATE TABLE feedback (
        message_id INTEGER NOT NULL REFERENCES messages (id),
        user_id TEXT NOT NULL,
        value INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (message_id, user_id)
    );
    -- "The user's latest conversation in this channel" (Slack's /escalate carries no thread).
    CREATE INDEX messages_by_user ON messages (platform, user_id, id) WHERE role = 'user';
    """,
    """
    -- Where the handoff card went (its thread carries the relay), reminders, satisfaction.
    ALTER TABLE escalations ADD COLUMN staff_platform TEXT;
    ALTER TABLE escalations ADD COLUMN staff_channel TEXT;
    ALTER TABLE escalations ADD COLUMN staff_thread TEXT;
    ALTER TABLE escalations ADD COLUMN relay INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE escalations ADD COLUMN reminded_at TEXT;
    ALTER TABLE escalations ADD COLUMN satisfaction INTEGER;
    CREATE INDEX escalations_by_staff_thread
        ON escalations (staff_platform, staff_channel, staff_thread);
    """,
    """
    -- Messages stored but never answered (the process stopped mid-answer), for the start-up sweep.
    CREATE INDEX messages_unanswered ON messages (created_at) WHERE status = 'received';
    """,
    """
    -- A message with a reply is answered, whatever its status says (see record_reply).
    CREATE INDEX messages_replies ON messages (reply_to) WHERE reply_to IS NOT NULL;
    """,
)

_MESSAGE_COLUMNS = (
    "id, conversation_id, role, text, user_id, user_name, status, tokens, created_at,"
    " platform_message_id, error"
)


_ESCALATION_COLUMNS = (
    "id, conversation_id, state, reason, trigger, requested_by, requested_at, claimed_by,"
    " claimed_at, resolved_by, resolved_at, staff_platform, staff_channel, staff_thread, relay,"
    " satisfaction"
)
_ESCALATION_FIELDS = len(_ESCALATION_COLUMNS.split(","))


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _escalation(row: Iterable[Any]) -> EscalationRecord:
    (id_, conv, state, reason, trigger, by, at, c_by, c_at, r_by, r_at, s_pf, s_ch, s_th, relay, sat) = row
    return EscalationRecord(
        id=id_,
        conversation_id=conv,
        state=EscalationState(state),
        reason=reason,
        trigger=Trigger(trigger),
        requested_by=by,
        requested_at=datetime.fromisoformat(at),
        claimed_by=c_by,
        claimed_at=_when(c_at),
        resolved_by=r_by,
        resolved_at=_when(r_at),
        staff_platform=s_pf,
        staff_channel=s_ch,
        staff_thread=s_th,
        relay=bool(relay),
        satisfaction=sat,
    )


def _conversation(row: Iterable[Any]) -> Conversation:
    (id_, platform, workspace, channel, thread, state, created, updated) = row
    return Conversation(
        id=id_,
        key=ThreadKey(platform, workspace, channel, thread),
        state=ConversationState(state),
        created_at=datetime.fromisoformat(created),
        updated_at=datetime.fromisoformat(updated),
    )


_CONVERSATION_COLUMNS = "id, platform, workspace, channel, thread, state, created_at, updated_at"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _message(row: Iterable[Any]) -> StoredMessage:
    (id_, conv, role, text, user_id, user_name, status, tokens, created, pmid, error) = row
    return StoredMessage(
        id=id_,
        conversation_id=conv,
        role=Role(role),
        text=text,
        user_id=user_id,
        user_name=user_name,
        status=MessageStatus(status),
        tokens=tokens,
        created_at=datetime.fromisoformat(created),
        platform_message_id=pmid,
        error=error,
    )


class SQLiteStore:
    """ConversationStore on one SQLite file. Writes that span statements are serialised by a lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: aiosqlite.Connection | None = None
        self._write = asyncio.Lock()

    @property
    def db(self) -> aiosqlite.Connection:
        """The shared connection (the knowledge base keeps its tables in the same file)."""
        if self._db is None:
            raise RuntimeError("store is not open")
        return self._db

    @property
    def write_lock(self) -> asyncio.Lock:
        """Held by every writer on the shared connection, so no transaction takes in another's writes."""
        return self._write

    async def open(self) -> None:
        if self.path.parent != Path(""):
            await asyncio.to_thread(self.path.parent.mkdir, parents=True, exist_ok=True)
        # Autocommit: every statement is its own transaction unless we BEGIN explicitly.
        self._db = await aiosqlite.connect(self.path, isolation_level=None)
        await self._db.execute("PRAGMA journal_mode = WAL")
        await self._db.execute("PRAGMA synchronous = NORMAL")  # durable across app crashes in WAL
        await self._db.execute("PRAGMA foreign_keys = ON")
        await self._db.execute("PRAGMA busy_timeout = 5000")
        await self._migrate()

    async def _migrate(self) -> None:
        db = self.db
        async with db.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        version = int(row[0]) if row else 0
        if version > len(MIGRATIONS):
            raise RuntimeError(
                f"database {self.path} has schema version {version}, newer than this supportbot"
                f" ({len(MIGRATIONS)}); upgrade supportbot"
            )
        for target, script in enumerate(MIGRATIONS[version:], start=version + 1):
            # executescript commits first; the version bump rides in the same script.
            await db.executescript(f"BEGIN;\n{script}\nPRAGMA user_version = {target};\nCOMMIT;")

    async def close(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None

    async def record_inbound(self, msg: IncomingMessage, tokens: int) -> StoredMessage | None:
        db, key, now = self.db, msg.key, _now()
        # Two statements, no transaction: the conversation upsert is idempotent, and the message
        # insert alone decides "new or duplicate". Each execute_fetchall is one worker-thread trip.
        async with self._write:
            rows = list(
                await db.execute_fetchall(
                    "INSERT INTO conversations (platform, workspace, channel, thread, created_at,"
                    " updated_at) VALUES (?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (platform, workspace, channel, thread)"
                    " DO UPDATE SET updated_at = excluded.updated_at RETURNING id, state",
                    (key.platform, key.workspace, key.channel, key.thread, now, now),
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
                        now,
                        now,
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
            created_at=datetime.fromisoformat(now),
            platform_message_id=msg.message_id,
            handed_over=state != ConversationState.BOT,
        )

    async def history(self, conversation_id: int, before_id: int, limit: int) -> list[StoredMessage]:
        # Answered user turns before this one, and replies to anything before it (a reply to an
        # earlier message can have a larger id than this message when both arrived together).
        rows = await self.db.execute_fetchall(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages"
            " WHERE conversation_id = ? AND id != ?"
            " AND ((role = 'user' AND id < ? AND status = 'answered')"
            "   OR (role = 'assistant' AND reply_to < ?))"
            " ORDER BY id DESC LIMIT ?",
            (conversation_id, before_id, before_id, before_id, limit),
        )
        return [_message(r) for r in rows]

    async def set_status(self, message_id: int, status: MessageStatus, error: str | None = None) -> None:
        async with self._write:
            await self.db.execute(
                "UPDATE messages SET status = ?, error = ?, updated_at = ? WHERE id = ?",
                (status.value, error, _now(), message_id),
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
        now = _now()
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
                        now,
                        now,
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
                (settles.value, error, now, inbound.id),
            )
        return int(rows[0][0])

    async def mark_delivered(self, message_id: int, platform_message_id: str | None) -> None:
        async with self._write:
            await self.db.execute(
                "UPDATE messages SET status = 'delivered', platform_message_id = ?,"
                " updated_at = ? WHERE id = ?",
                (platform_message_id, _now(), message_id),
            )

    async def find_conversation(self, key: ThreadKey) -> Conversation | None:
        rows = list(
            await self.db.execute_fetchall(
                f"SELECT {_CONVERSATION_COLUMNS} FROM conversations"
                " WHERE platform = ? AND workspace = ? AND channel = ? AND thread = ?",
                (key.platform, key.workspace, key.channel, key.thread),
            )
        )
        return _conversation(rows[0]) if rows else None

    async def messages(self, conversation_id: int, limit: int) -> list[StoredMessage]:
        rows = await self.db.execute_fetchall(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? ORDER BY id DESC LIMIT ?",
            (conversation_id, limit),
        )
        return [_message(r) for r in reversed(list(rows))]

    async def stats(self) -> Stats:
        db = self.db
        rows = list(await db.execute_fetchall("SELECT COUNT(*) FROM conversations"))
        conversations = int(rows[0][0])
        rows = list(await db.execute_fetchall("SELECT COUNT(*) FROM messages"))
        messages = int(rows[0][0])
        by_model = [
            ModelStats(
                model=r[0],
                replies=int(r[1]),
                prompt_tokens=int(r[2]),
                completion_tokens=int(r[3]),
                cost_usd=float(r[4]),
            )
            for r in await db.execute_fetchall(
                "SELECT model, COUNT(*), COALESCE(SUM(prompt_tokens), 0),"
                " COALESCE(SUM(completion_tokens), 0), COALESCE(SUM(cost_usd), 0.0)"
                " FROM messages WHERE model IS NOT NULL GROUP BY model ORDER BY model"
            )
        ]
        timings = list(
            await db.execute_fetchall("SELECT requested_at, claimed_at, resolved_at FROM escalations")
        )

        def seconds(start: str, end: str) -> float:
            return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()

        return Stats(
            conversations=conversations,
            messages=messages,
            by_model=by_model,
            escalations=len(timings),
            open_escalations=sum(1 for t in timings if t[2] is None),
            seconds_to_claim=[seconds(t[0], t[1]) for t in timings if t[1]],
            seconds_to_resolve=[seconds(t[0], t[2]) for t in timings if t[2]],
        )

    async def cost_since(self, since: datetime) -> float:
        rows = list(
            await self.db.execute_fetchall(
                "SELECT COALESCE(SUM(cost_usd), 0.0) FROM messages"
                " WHERE cost_usd IS NOT NULL AND created_at >= ?",
                (since.astimezone(UTC).isoformat(timespec="microseconds"),),
            )
        )
        return float(rows[0][0])

    async def ensure_conversation(self, key: ThreadKey) -> Conversation:
        now = _now()
        async with self._write:
            await self.db.execute(
                "INSERT INTO conversations (platform, workspace, channel, thread, created_at,"
                " updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (key.platform, key.workspace, key.channel, key.thread, now, now),
            )
        conv = await self.find_conversation(key)
        assert conv is not None
        return conv

    async def conversation_of_message(self, message_id: int) -> Conversation | None:
        rows = list(
            await self.db.execute_fetchall(
                f"SELECT {_CONVERSATION_COLUMNS} FROM conversations WHERE id ="
                " (SELECT conversation_id FROM messages WHERE id = ?)",
                (message_id,),
            )
        )
        return _conversation(rows[0]) if rows else None

    async def latest_conversation_of_user(
        self, platform: str, workspace: str, channel: str, user_id: str
    ) -> Conversation | None:
        rows = list(
            await self.db.execute_fetchall(
                f"SELECT {_CONVERSATION_COLUMNS} FROM conversations WHERE id = ("
                " SELECT m.conversation_id FROM messages m"
                " JOIN conversations c ON c.id = m.conversation_id"
                " WHERE m.platform = ? AND m.user_id = ? AND m.role = 'user'"
                " AND c.workspace = ? AND c.channel = ? ORDER BY m.id DESC LIMIT 1)",
                (platform, user_id, workspace, channel),
            )
        )
        return _conversation(rows[0]) if rows else None

    async def _transition(
        self, conversation_id: int, sql: str, params: tuple[Any, ...], new_state: ConversationState
    ) -> EscalationRecord | None:
        """Run one escalation write and move the conversation to `new_state`, atomically."""
        db = self.db
        async with self._write:
            await db.execute("BEGIN IMMEDIATE")
            try:
                cur = await db.execute(sql, params)
                changed = cur.rowcount
                await cur.close()
                if changed == 1:
                    await db.execute(
                        "UPDATE conversations SET state = ?, updated_at = ? WHERE id = ?",
                        (new_state.value, _now(), conversation_id),
                    )
                await db.execute("COMMIT")
            except BaseException:
                await db.execute("ROLLBACK")
                raise
        if changed != 1:
            return None
        rows = list(
            await db.execute_fetchall(
                f"SELECT {_ESCALATION_COLUMNS} FROM escalations WHERE conversation_id = ?"
                " ORDER BY id DESC LIMIT 1",
                (conversation_id,),
            )
        )
        return _escalation(rows[0])

    async def open_escalation(
        self, conversation_id: int, *, reason: str, trigger: Trigger, requested_by: str
    ) -> EscalationRecord | None:
        # The partial unique index makes a second open escalation a no-op (OR IGNORE).
        return await self._transition(
            conversation_id,
            "INSERT OR IGNORE INTO escalations (conversation_id, state, reason, trigger,"
            " requested_by, requested_at) VALUES (?, 'waiting', ?, ?, ?, ?)",
            (conversation_id, reason, trigger, requested_by, _now()),
            ConversationState.WAITING,
        )

    async def claim_escalation(self, conversation_id: int, staff_id: str) -> EscalationRecord | None:
        return await self._transition(
            conversation_id,
            "UPDATE escalations SET state = 'human', claimed_by = ?, claimed_at = ?"
            " WHERE conversation_id = ? AND state = 'waiting'",
            (staff_id, _now(), conversation_id),
            ConversationState.HUMAN,
        )

    async def resolve_escalation(self, conversation_id: int, staff_id: str) -> EscalationRecord | None:
        return await self._transition(
            conversation_id,
            "UPDATE escalations SET state = 'resolved', resolved_by = ?, resolved_at = ?"
            " WHERE conversation_id = ? AND resolved_at IS NULL",
            (staff_id, _now(), conversation_id),
            ConversationState.BOT,
        )

    async def current_escalation(self, conversation_id: int) -> EscalationRecord | None:
        rows = list(
            await self.db.execute_fetchall(
                f"SELECT {_ESCALATION_COLUMNS} FROM escalations"
                " WHERE conversation_id = ? AND resolved_at IS NULL",
                (conversation_id,),
            )
        )
        return _escalation(rows[0]) if rows else None

    async def open_escalations(self) -> list[tuple[EscalationRecord, ThreadKey]]:
        rows = await self.db.execute_fetchall(
            f"SELECT {', '.join('e.' + c.strip() for c in _ESCALATION_COLUMNS.split(','))},"
            " c.platform, c.workspace, c.channel, c.thread"
            " FROM escalations e JOIN conversations c ON c.id = e.conversation_id"
            " WHERE e.resolved_at IS NULL ORDER BY e.requested_at"
        )
        return [(_escalation(r[:_ESCALATION_FIELDS]), ThreadKey(*r[_ESCALATION_FIELDS:])) for r in rows]

    async def record_feedback(self, message_id: int, user_id: str, value: int) -> None:
        async with self._write:
            await self.db.execute(
                "INSERT INTO feedback (message_id, user_id, value, created_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (message_id, user_id) DO UPDATE SET value = excluded.value",
                (message_id, user_id, value, _now()),
            )

    async def _escalations_with_keys(
        self, where: str, params: tuple[Any, ...]
    ) -> list[tuple[EscalationRecord, ThreadKey]]:
        columns = ", ".join("e." + c.strip() for c in _ESCALATION_COLUMNS.split(","))
        rows = await self.db.execute_fetchall(
            f"SELECT {columns}, c.platform, c.workspace, c.channel, c.thread"
            f" FROM escalations e JOIN conversations c ON c.id = e.conversation_id WHERE {where}",
            params,
        )
        return [(_escalation(r[:_ESCALATION_FIELDS]), ThreadKey(*r[_ESCALATION_FIELDS:])) for r in rows]

    async def escalation(self, escalation_id: int) -> tuple[EscalationRecord, ThreadKey] | None:
        found = await self._escalations_with_keys("e.id = ?", (escalation_id,))
        return found[0] if found else None

    async def escalation_by_staff_thread(
        self, platform: str, channel: str, thread: str
    ) -> tuple[EscalationRecord, ThreadKey] | None:
        found = await self._escalations_with_keys(
            "e.staff_platform = ? AND e.staff_channel = ? AND e.staff_thread = ? AND e.resolved_at IS NULL",
            (platform, channel, thread),
        )
        return found[0] if found else None

    async def set_staff_thread(
        self, escalation_id: int, platform: str, channel: str, thread: str, relay: bool
    ) -> None:
        async with self._write:
            await self.db.execute(
                "UPDATE escalations SET staff_platform = ?, staff_channel = ?, staff_thread = ?,"
                " relay = ? WHERE id = ?",
                (platform, channel, thread, int(relay), escalation_id),
            )

    async def unclaimed_since(self, before: datetime) -> list[tuple[EscalationRecord, ThreadKey]]:
        return await self._escalations_with_keys(
            "e.state = 'waiting' AND e.reminded_at IS NULL AND e.requested_at <= ?",
            (before.astimezone(UTC).isoformat(timespec="microseconds"),),
        )

    async def mark_reminded(self, escalation_id: int) -> None:
        async with self._write:
            await self.db.execute(
                "UPDATE escalations SET reminded_at = ? WHERE id = ?", (_now(), escalation_id)
            )

    async def record_satisfaction(self, escalation_id: int, score: int) -> bool:
        async with self._write:
            cur = await self.db.execute(
                "UPDATE escalations SET satisfaction = ? WHERE id = ? AND resolved_at IS NOT NULL",
                (score, escalation_id),
            )
            changed = cur.rowcount
            await cur.close()
        return changed == 1

    async def unanswered_between(
        self, since: datetime, before: datetime
    ) -> list[tuple[StoredMessage, ThreadKey]]:
        rows = await self.db.execute_fetchall(
            f"SELECT {', '.join('m.' + c.strip() for c in _MESSAGE_COLUMNS.split(','))},"
            " c.platform, c.workspace, c.channel, c.thread"
            " FROM messages m JOIN conversations c ON c.id = m.conversation_id"
            " WHERE m.status = 'received' AND m.role = 'user' AND m.created_at >= ?"
            " AND m.created_at < ?"
            " AND NOT EXISTS (SELECT 1 FROM messages r WHERE r.reply_to = m.id) ORDER BY m.id",
            (
                since.astimezone(UTC).isoformat(timespec="microseconds"),
                before.astimezone(UTC).isoformat(timespec="microseconds"),
            ),
        )
        width = len(_MESSAGE_COLUMNS.split(","))
        return [(_message(r[:width]), ThreadKey(*r[width:])) for r in rows]
