"""Reminders: one note in the card's thread for each escalation left unclaimed too long."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.handoff.ports import PlatformPort
from bot.storage.store import ConversationStore

log = logging.getLogger(__name__)


class Reminders:
    """Checks every so often (by `supportbot run`) for escalations waiting past reminder_minutes."""

    def __init__(
        self,
        store: ConversationStore,
        minutes: int,
        ports: Callable[[str], PlatformPort | None],
        now: Callable[[], datetime],
    ) -> None:
        self._store = store
        self._minutes = minutes
        self._port = ports
        self._now = now

    async def due(self) -> int:
        """Post one reminder for each escalation unclaimed for escalation.reminder_minutes."""
        minutes = self._minutes
        if minutes <= 0:
            return 0
        due = await self._store.unclaimed_since(self._now() - timedelta(minutes=minutes))
        for record, _key in due:
            if not await self._store.mark_reminded(record.id):
                continue  # reminded meanwhile (by another instance, on a shared store)
            port = self._port(record.staff_platform or "")
            if record.staff_channel and record.staff_thread and port is not None:
                await port.post_staff_note(
                    record.staff_channel,
                    record.staff_thread,
                    f"Reminder: this escalation has waited {minutes} minutes without being claimed.",
                )
        return len(due)

    async def run(self, stop: asyncio.Event, every_s: float = 30.0) -> None:
        while not stop.is_set():
            try:
                await self.due()
            except Exception:
                log.exception("handoff: reminder pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=every_s)
