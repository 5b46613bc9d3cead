"""The SQLite store's escalations: waiting → human → resolved, staff threads, reminders, ratings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.events import ThreadKey
from bot.handoff.states import Trigger
from bot.storage.sqlite.connection import SQLiteConnection
from bot.storage.sqlite.rows import (
    ESCALATION_COLUMNS,
    ESCALATION_FIELDS,
    THREAD_KEY_COLUMNS,
    escalation,
    now,
    prefixed,
    stamp,
)
from bot.storage.sqlite.transaction import write_transaction
from bot.storage.store import ConversationState, EscalationRecord


class SQLiteEscalations(SQLiteConnection):
    """The escalation part of `SQLiteStore`."""

    async def _transition(
        self, conversation_id: int, sql: str, params: tuple[Any, ...], new_state: ConversationState
    ) -> EscalationRecord | None:
        """Run one escalation write and move the conversation to `new_state`, atomically."""
        db = self.db
        async with write_transaction(db, self._write):
            cur = await db.execute(sql, params)
            changed = cur.rowcount
            await cur.close()
            if changed == 1:
                await db.execute(
                    "UPDATE conversations SET state = ?, updated_at = ? WHERE id = ?",
                    (new_state.value, now(), conversation_id),
                )
        if changed != 1:
            return None
        rows = list(
            await db.execute_fetchall(
                f"SELECT {ESCALATION_COLUMNS} FROM escalations WHERE conversation_id = ?"
                " ORDER BY id DESC LIMIT 1",
                (conversation_id,),
            )
        )
        return escalation(rows[0])

    async def open_escalation(
        self, conversation_id: int, *, reason: str, trigger: Trigger, requested_by: str
    ) -> EscalationRecord | None:
        # The partial unique index makes a second open escalation a no-op (OR IGNORE).
        return await self._transition(
            conversation_id,
            "INSERT OR IGNORE INTO escalations (conversation_id, state, reason, trigger,"
            " requested_by, requested_at) VALUES (?, 'waiting', ?, ?, ?, ?)",
            (conversation_id, reason, trigger, requested_by, now()),
            ConversationState.WAITING,
        )

    async def claim_escalation(self, conversation_id: int, staff_id: str) -> EscalationRecord | None:
        return await self._transition(
            conversation_id,
            "UPDATE escalations SET state = 'human', claimed_by = ?, claimed_at = ?"
            " WHERE conversation_id = ? AND state = 'waiting'",
            (staff_id, now(), conversation_id),
            ConversationState.HUMAN,
        )

    async def resolve_escalation(self, conversation_id: int, staff_id: str) -> EscalationRecord | None:
        return await self._transition(
            conversation_id,
            "UPDATE escalations SET state = 'resolved', resolved_by = ?, resolved_at = ?"
            " WHERE conversation_id = ? AND resolved_at IS NULL",
            (staff_id, now(), conversation_id),
            ConversationState.BOT,
        )

    async def current_escalation(self, conversation_id: int) -> EscalationRecord | None:
        rows = list(
            await self.db.execute_fetchall(
                f"SELECT {ESCALATION_COLUMNS} FROM escalations"
                " WHERE conversation_id = ? AND resolved_at IS NULL",
                (conversation_id,),
            )
        )
        return escalation(rows[0]) if rows else None

    async def _escalations_with_keys(
        self, where: str, params: tuple[Any, ...] = ()
    ) -> list[tuple[EscalationRecord, ThreadKey]]:
        rows = await self.db.execute_fetchall(
            f"SELECT {prefixed(ESCALATION_COLUMNS, 'e')}, {THREAD_KEY_COLUMNS}"
            f" FROM escalations e JOIN conversations c ON c.id = e.conversation_id WHERE {where}",
            params,
        )
        return [(escalation(r[:ESCALATION_FIELDS]), ThreadKey(*r[ESCALATION_FIELDS:])) for r in rows]

    async def open_escalations(self) -> list[tuple[EscalationRecord, ThreadKey]]:
        return await self._escalations_with_keys("e.resolved_at IS NULL ORDER BY e.requested_at")

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
            "e.state = 'waiting' AND e.reminded_at IS NULL AND e.requested_at <= ?", (stamp(before),)
        )

    async def mark_reminded(self, escalation_id: int) -> bool:
        async with self._write:
            cur = await self.db.execute(
                "UPDATE escalations SET reminded_at = ? WHERE id = ? AND reminded_at IS NULL",
                (now(), escalation_id),
            )
            changed = cur.rowcount
            await cur.close()
        return changed == 1

    async def record_satisfaction(self, escalation_id: int, score: int) -> bool:
        async with self._write:
            cur = await self.db.execute(
                "UPDATE escalations SET satisfaction = ? WHERE id = ? AND resolved_at IS NOT NULL",
                (score, escalation_id),
            )
            changed = cur.rowcount
            await cur.close()
        return changed == 1
