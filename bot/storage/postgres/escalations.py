"""The Postgres store's escalations: waiting → human → resolved, staff threads, reminders, ratings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.events import ThreadKey
from bot.handoff.states import Trigger
from bot.storage.postgres.connection import PostgresConnection
from bot.storage.postgres.rows import (
    ESCALATION_COLUMNS,
    THREAD_KEY_COLUMNS,
    changed,
    escalation,
    now,
    prefixed,
    storable,
    thread_key,
)
from bot.storage.store import ConversationState, EscalationRecord


class PostgresEscalations(PostgresConnection):
    """The escalation part of `PostgresStore`."""

    async def _transition(
        self, conversation_id: int, sql: str, params: tuple[Any, ...], new_state: ConversationState
    ) -> EscalationRecord | None:
        """Run one escalation write and move the conversation to `new_state`, atomically."""
        async with self.pool.acquire() as conn:
            async with conn.transaction():
                if changed(await conn.execute(sql, *params)) != 1:
                    return None
                await conn.execute(
                    "UPDATE conversations SET state = $1, updated_at = $2 WHERE id = $3",
                    new_state.value,
                    now(),
                    conversation_id,
                )
            row = await conn.fetchrow(
                f"SELECT {ESCALATION_COLUMNS} FROM escalations WHERE conversation_id = $1"
                " ORDER BY id DESC LIMIT 1",
                conversation_id,
            )
        assert row is not None
        return escalation(row)

    async def open_escalation(
        self, conversation_id: int, *, reason: str, trigger: Trigger, requested_by: str
    ) -> EscalationRecord | None:
        # The partial unique index makes a second open escalation a no-op, on any instance.
        return await self._transition(
            conversation_id,
            "INSERT INTO escalations (conversation_id, state, reason, trigger, requested_by, requested_at)"
            " VALUES ($1, 'waiting', $2, $3, $4, $5)"
            " ON CONFLICT (conversation_id) WHERE resolved_at IS NULL DO NOTHING",
            (conversation_id, storable(reason), str(trigger), storable(requested_by), now()),
            ConversationState.WAITING,
        )

    async def claim_escalation(self, conversation_id: int, staff_id: str) -> EscalationRecord | None:
        return await self._transition(
            conversation_id,
            "UPDATE escalations SET state = 'human', claimed_by = $1, claimed_at = $2"
            " WHERE conversation_id = $3 AND state = 'waiting'",
            (staff_id, now(), conversation_id),
            ConversationState.HUMAN,
        )

    async def resolve_escalation(self, conversation_id: int, staff_id: str) -> EscalationRecord | None:
        return await self._transition(
            conversation_id,
            "UPDATE escalations SET state = 'resolved', resolved_by = $1, resolved_at = $2"
            " WHERE conversation_id = $3 AND resolved_at IS NULL",
            (staff_id, now(), conversation_id),
            ConversationState.BOT,
        )

    async def current_escalation(self, conversation_id: int) -> EscalationRecord | None:
        row = await self.pool.fetchrow(
            f"SELECT {ESCALATION_COLUMNS} FROM escalations"
            " WHERE conversation_id = $1 AND resolved_at IS NULL",
            conversation_id,
        )
        return escalation(row) if row is not None else None

    async def _escalations_with_keys(
        self, where: str, *params: Any
    ) -> list[tuple[EscalationRecord, ThreadKey]]:
        rows = await self.pool.fetch(
            f"SELECT {prefixed(ESCALATION_COLUMNS, 'e')}, {THREAD_KEY_COLUMNS}"
            f" FROM escalations e JOIN conversations c ON c.id = e.conversation_id WHERE {where}",
            *params,
        )
        return [(escalation(r), thread_key(r)) for r in rows]

    async def open_escalations(self) -> list[tuple[EscalationRecord, ThreadKey]]:
        return await self._escalations_with_keys("e.resolved_at IS NULL ORDER BY e.requested_at")

    async def escalation(self, escalation_id: int) -> tuple[EscalationRecord, ThreadKey] | None:
        found = await self._escalations_with_keys("e.id = $1", escalation_id)
        return found[0] if found else None

    async def escalation_by_staff_thread(
        self, platform: str, channel: str, thread: str
    ) -> tuple[EscalationRecord, ThreadKey] | None:
        found = await self._escalations_with_keys(
            "e.staff_platform = $1 AND e.staff_channel = $2 AND e.staff_thread = $3"
            " AND e.resolved_at IS NULL",
            platform,
            channel,
            thread,
        )
        return found[0] if found else None

    async def set_staff_thread(
        self, escalation_id: int, platform: str, channel: str, thread: str, relay: bool
    ) -> None:
        await self.pool.execute(
            "UPDATE escalations SET staff_platform = $1, staff_channel = $2, staff_thread = $3,"
            " relay = $4 WHERE id = $5",
            platform,
            channel,
            thread,
            relay,
            escalation_id,
        )

    async def unclaimed_since(self, before: datetime) -> list[tuple[EscalationRecord, ThreadKey]]:
        return await self._escalations_with_keys(
            "e.state = 'waiting' AND e.reminded_at IS NULL AND e.requested_at <= $1", before
        )

    async def mark_reminded(self, escalation_id: int) -> bool:
        status = await self.pool.execute(
            "UPDATE escalations SET reminded_at = $1 WHERE id = $2 AND reminded_at IS NULL",
            now(),
            escalation_id,
        )
        return changed(status) == 1

    async def record_satisfaction(self, escalation_id: int, score: int) -> bool:
        status = await self.pool.execute(
            "UPDATE escalations SET satisfaction = $1 WHERE id = $2 AND resolved_at IS NOT NULL",
            score,
            escalation_id,
        )
        return changed(status) == 1
