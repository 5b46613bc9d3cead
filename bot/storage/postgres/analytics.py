"""The Postgres store's analytics records: staff messages, what answers stood on and took, "That
solved it", the conversations of a period with everything in them, and learned help entries."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

import asyncpg

from bot.events import AnswerTimings
from bot.storage.postgres.connection import PostgresConnection
from bot.storage.postgres.rows import (
    CONVERSATION_COLUMNS,
    ESCALATION_COLUMNS,
    conversation,
    escalation,
    now,
    storable,
)
from bot.storage.store import (
    Activity,
    EscalationRecord,
    Grounding,
    LearnedEntry,
    LearnedStatus,
    MessageStatus,
    Role,
    Turn,
)

_LEARNED_COLUMNS = (
    "id, escalation_id, conversation_id, question, answer, drafted_by, status, created_at,"
    " decided_at, decided_by"
)


def _learned(row: asyncpg.Record) -> LearnedEntry:
    return LearnedEntry(
        id=int(row["id"]),
        escalation_id=int(row["escalation_id"]),
        conversation_id=int(row["conversation_id"]),
        question=row["question"],
        answer=row["answer"],
        drafted_by=row["drafted_by"],
        status=LearnedStatus(row["status"]),
        created_at=row["created_at"],
        decided_at=row["decided_at"],
        decided_by=row["decided_by"],
    )


def _turn(row: asyncpg.Record) -> Turn:
    timings = (row["sign_s"], row["first_token_s"], row["complete_s"])
    return Turn(
        id=int(row["id"]),
        role=Role(row["role"]),
        text=row["text"],
        user_id=row["user_id"],
        status=MessageStatus(row["status"]),
        created_at=row["created_at"],
        reply_to=row["reply_to"],
        cost_usd=row["cost_usd"],
        grounding=Grounding(row["grounding"]) if row["grounding"] else None,
        timings=AnswerTimings(*timings) if any(v is not None for v in timings) else None,
        feedback=int(row["feedback"]),
        solved=bool(row["solved"]),
    )


class PostgresAnalytics(PostgresConnection):
    """The analytics part of `PostgresStore`."""

    async def record_staff_message(
        self,
        conversation_id: int,
        user_id: str,
        user_name: str,
        text: str,
        *,
        tokens: int,
        platform_message_id: str | None = None,
    ) -> int | None:
        new_id = await self.pool.fetchval(
            "INSERT INTO messages (conversation_id, platform, platform_message_id, role, text, user_id,"
            " user_name, status, tokens, created_at, updated_at)"
            " SELECT id, platform, $1, 'staff', $2, $3, $4, 'delivered', $5, $6, $6 FROM conversations"
            " WHERE id = $7 ON CONFLICT (platform, platform_message_id)"
            " WHERE role = 'staff' AND platform_message_id IS NOT NULL DO NOTHING RETURNING id",
            platform_message_id,
            storable(text),
            storable(user_id),
            storable(user_name),
            tokens,
            now(),
            conversation_id,
        )
        return int(new_id) if new_id is not None else None

    async def record_answer_facts(
        self, reply_id: int, *, grounding: Grounding | None = None, timings: AnswerTimings | None = None
    ) -> None:
        t = timings or AnswerTimings()
        await self.pool.execute(
            "INSERT INTO answer_facts AS f (message_id, grounding, sign_s, first_token_s, complete_s)"
            " SELECT id, $1, $2, $3, $4 FROM messages WHERE id = $5"
            " ON CONFLICT (message_id) DO UPDATE SET"
            " grounding = COALESCE(excluded.grounding, f.grounding),"
            " sign_s = COALESCE(excluded.sign_s, f.sign_s),"
            " first_token_s = COALESCE(excluded.first_token_s, f.first_token_s),"
            " complete_s = COALESCE(excluded.complete_s, f.complete_s)",
            grounding.value if grounding else None,
            t.sign_s,
            t.first_token_s,
            t.complete_s,
            reply_id,
        )

    async def record_solved(self, reply_id: int, user_id: str) -> None:
        await self.pool.execute(
            "INSERT INTO solved (message_id, user_id, created_at) SELECT id, $1, $2 FROM messages"
            " WHERE id = $3 ON CONFLICT DO NOTHING",
            storable(user_id),
            now(),
            reply_id,
        )

    async def activity(self, since: datetime, until: datetime) -> list[Activity]:
        in_window = "SELECT id FROM conversations WHERE created_at >= $1 AND created_at < $2"
        async with self.pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            conversations = await conn.fetch(
                f"SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE created_at >= $1 AND created_at < $2"
                " ORDER BY created_at, id",
                since,
                until,
            )
            turns: dict[int, list[Turn]] = defaultdict(list)
            for row in await conn.fetch(
                "SELECT m.id, m.role, m.text, m.user_id, m.status, m.created_at, m.reply_to, m.cost_usd,"
                " f.grounding, f.sign_s, f.first_token_s, f.complete_s,"
                " (SELECT COALESCE(SUM(value), 0) FROM feedback WHERE message_id = m.id) AS feedback,"
                " EXISTS (SELECT 1 FROM solved WHERE message_id = m.id) AS solved, m.conversation_id"
                " FROM messages m LEFT JOIN answer_facts f ON f.message_id = m.id"
                f" WHERE m.conversation_id IN ({in_window}) ORDER BY m.id",
                since,
                until,
            ):
                turns[int(row["conversation_id"])].append(_turn(row))
            escalations: dict[int, list[EscalationRecord]] = defaultdict(list)
            for row in await conn.fetch(
                f"SELECT {ESCALATION_COLUMNS} FROM escalations WHERE conversation_id IN ({in_window})"
                " ORDER BY id",
                since,
                until,
            ):
                record = escalation(row)
                escalations[record.conversation_id].append(record)
        found = [conversation(r) for r in conversations]
        return [Activity(c, tuple(turns[c.id]), tuple(escalations[c.id])) for c in found]

    async def propose_learned(
        self, escalation_id: int, conversation_id: int, question: str, answer: str, drafted_by: str
    ) -> LearnedEntry | None:
        row = await self.pool.fetchrow(
            "INSERT INTO learned_entries (escalation_id, conversation_id, question, answer, drafted_by,"
            " created_at) VALUES ($1, $2, $3, $4, $5, $6)"
            f" ON CONFLICT DO NOTHING RETURNING {_LEARNED_COLUMNS}",
            escalation_id,
            conversation_id,
            storable(question),
            storable(answer),
            drafted_by,
            now(),
        )
        return _learned(row) if row is not None else None

    async def learned_entries(self, status: LearnedStatus | None = None) -> list[LearnedEntry]:
        if status is None:
            rows = await self.pool.fetch(f"SELECT {_LEARNED_COLUMNS} FROM learned_entries ORDER BY id")
        else:
            rows = await self.pool.fetch(
                f"SELECT {_LEARNED_COLUMNS} FROM learned_entries WHERE status = $1 ORDER BY id", status.value
            )
        return [_learned(r) for r in rows]

    async def decide_learned(
        self, entry_id: int, status: LearnedStatus, by: str, *, answer: str | None = None
    ) -> LearnedEntry | None:
        row = await self.pool.fetchrow(
            "UPDATE learned_entries SET status = $1, decided_by = $2, decided_at = $3,"
            " answer = COALESCE($4, answer) WHERE id = $5 AND status = 'proposed'"
            f" RETURNING {_LEARNED_COLUMNS}",
            status.value,
            by,
            now(),
            storable(answer) if answer is not None else None,
            entry_id,
        )
        return _learned(row) if row is not None else None
