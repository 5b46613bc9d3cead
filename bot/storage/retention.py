"""Retention: `supportbot run` deletes conversations past database.retention_days, once an hour."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bot.storage.store import ConversationStore

log = logging.getLogger(__name__)


async def purge_once(store: ConversationStore, days: int, now: Callable[[], datetime]) -> int:
    """Delete what is older than `days` (0 = keep everything); returns the conversations removed."""
    if days <= 0:
        return 0
    removed = await store.purge_before(now() - timedelta(days=days))
    if removed.conversations:
        log.info(
            "retention: removed %s conversation(s), %s message(s) older than %s days",
            removed.conversations,
            removed.messages,
            days,
        )
    return removed.conversations


async def run_retention(
    store: ConversationStore,
    days: int,
    stop: asyncio.Event,
    every_s: float = 3600.0,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> None:
    """Purge at start and then every `every_s` until `stop`; a failed pass is logged, not fatal."""
    while days > 0 and not stop.is_set():
        try:
            await purge_once(store, days, now)
        except Exception:
            log.exception("retention: the purge failed; trying again later")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every_s)
