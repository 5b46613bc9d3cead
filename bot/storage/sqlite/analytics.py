"""The SQLite store's analytics records: staff messages, what answers stood on and took, "That
solved it", the conversations of a period with everything in them, and learned help entries."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from bot.events import AnswerTimings
from bot.storage.sqlite.connection import SQLiteConnection
from bot.storage.sqlite.rows import (
    CONVERSATION_COLUMNS,
    ESCALATION_COLUMNS,
    conversation,
    escalation,
    now,
    stamp,
)
from bot.storage.store import (
    Activity,
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


def _learned(row: Any) -> LearnedEntry:
    (id_, esc, conv, question, answer, drafted, status, created, decided_at, decided_by) = row
    return LearnedEntry(
        id=int(id_),
        escalation_id=int(esc),
        conversation_id=int(conv),
        question=str(question),
        answer=str(answer),
        drafted_by=str(drafted),
        status=LearnedStatus(status),
        created_at=datetime.fromisoformat(created),
        decided_at=datetime.fromisoformat(decided_at) if decided_at else None,
        decided_by=decided_by,
    )


def _turn(row: Any) -> Turn:
    (id_, role, text, user_id, status, created, reply_to, cost, grounding, sign, first, complete) = row[:12]
    timed = any(v is not None for v in (sign, first, complete))
    return Turn(
        id=int(id_),
        role=Role(role),
        text=str(text),
        user_id=str(user_id),
        status=MessageStatus(status),
        created_at=datetime.fromisoformat(created),
        reply_to=reply_to,
        cost_usd=cost,
        grounding=Grounding(grounding) if grounding else None,
        timings=AnswerTimings(sign, first, complete) if timed else None,
        feedback=int(row[12]),
        solved=bool(row[13]),
    )


class SQLiteAnalytics(SQLiteConnection):
    """The analytics part of `SQLiteStore`."""

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
        at = now()
        async with self._write:
            rows = list(
                await self.db.execute_fetchall(
                    "INSERT OR IGNORE INTO messages (conversation_id, platform, platform_message_id, role,"
                    " text, user_id, user_name, status, tokens, created_at, updated_at)"
                    " SELECT id, platform, ?, 'staff', ?, ?, ?, 'delivered', ?, ?, ? FROM conversations"
                    " WHERE id = ? RETURNING id",
                    (platform_message_id, text, user_id, user_name, tokens, at, at, conversation_id),
                )
            )
        return int(rows[0][0]) if rows else None

    async def record_answer_facts(
        self, reply_id: int, *, grounding: Grounding | None = None, timings: AnswerTimings | None = None
    ) -> None:
        t = timings or AnswerTimings()
        async with self._write:
            await self.db.execute(
                "INSERT INTO answer_facts (message_id, grounding, sign_s, first_token_s, complete_s)"
                " SELECT id, ?, ?, ?, ? FROM messages WHERE id = ?"
                " ON CONFLICT (message_id) DO UPDATE SET"
                " grounding = COALESCE(excluded.grounding, grounding),"
                " sign_s = COALESCE(excluded.sign_s, sign_s),"
                " first_token_s = COALESCE(excluded.first_token_s, first_token_s),"
                " complete_s = COALESCE(excluded.complete_s, complete_s)",
                (
                    grounding.value if grounding else None,
                    t.sign_s,
                    t.first_token_s,
                    t.complete_s,
                    reply_id,
                ),
            )

    async def record_solved(self, reply_id: int, user_id: str) -> None:
        async with self._write:
            await self.db.execute(
                "INSERT OR IGNORE INTO solved (message_id, user_id, created_at)"
                " SELECT id, ?, ? FROM messages WHERE id = ?",
                (user_id, now(), reply_id),
            )

    async def activity(self, since: datetime, until: datetime) -> list[Activity]:
        window = (stamp(since), stamp(until))
        in_window = "SELECT id FROM conversations WHERE created_at >= ? AND created_at < ?"
        conversations = await self.db.execute_fetchall(
            f"SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE created_at >= ? AND created_at < ?"
            " ORDER BY created_at, id",
            window,
        )
        turns: dict[int, list[Turn]] = defaultdict(list)
        for row in await self.db.execute_fetchall(
            "SELECT m.id, m.role, m.text, m.user_id, m.status, m.created_at, m.reply_to, m.cost_usd,"
            " f.grounding, f.sign_s, f.first_token_s, f.complete_s,"
            " (SELECT COALESCE(SUM(value), 0) FROM feedback WHERE message_id = m.id),"
            " EXISTS (SELECT 1 FROM solved WHERE message_id = m.id), m.conversation_id"
            " FROM messages m LEFT JOIN answer_facts f ON f.message_id = m.id"
            f" WHERE m.conversation_id IN ({in_window}) ORDER BY m.id",
            window,
        ):
            turns[int(row[14])].append(_turn(row))
        escalations: dict[int, list[Any]] = defaultdict(list)
        for row in await self.db.execute_fetchall(
            f"SELECT {ESCALATION_COLUMNS} FROM escalations WHERE conversation_id IN ({in_window})"
            " ORDER BY id",
            window,
        ):
            record = escalation(row)
            escalations[record.conversation_id].append(record)
        found = [conversation(r) for r in conversations]
        return [Activity(c, tuple(turns[c.id]), tuple(escalations[c.id])) for c in found]

    async def propose_learned(
        self, escalation_id: int, conversation_id: int, question: str, answer: str, drafted_by: str
    ) -> LearnedEntry | None:
        async with self._write:
            rows = list(
                await self.db.execute_fetchall(
                    "INSERT OR IGNORE INTO learned_entries (escalation_id, conversation_id, question,"
                    " answer, drafted_by, created_at) VALUES (?, ?, ?, ?, ?, ?)"
                    f" RETURNING {_LEARNED_COLUMNS}",
                    (escalation_id, conversation_id, question, answer, drafted_by, now()),
                )
            )
        return _learned(rows[0]) if rows else None

    async def learned_entries(self, status: LearnedStatus | None = None) -> list[LearnedEntry]:
        where, params = ("WHERE status = ?", (status.value,)) if status else ("", ())
        rows = await self.db.execute_fetchall(
            f"SELECT {_LEARNED_COLUMNS} FROM learned_entries {where} ORDER BY id", params
        )
        return [_learned(r) for r in rows]

    async def decide_learned(
        self, entry_id: int, status: LearnedStatus, by: str, *, answer: str | None = None
    ) -> LearnedEntry | None:
        async with self._write:
            rows = list(
                await self.db.execute_fetchall(
                    "UPDATE learned_entries SET status = ?, decided_by = ?, decided_at = ?,"
                    " answer = COALESCE(?, answer) WHERE id = ? AND status = 'proposed'"
                    f" RETURNING {_LEARNED_COLUMNS}",
                    (status.value, by, now(), answer, entry_id),
                )
            )
        return _learned(rows[0]) if rows else None
