"""Keeping a running instance's index in line with the shared catalogue (instances on one Postgres
database): once on start, then every `kb.sync_s`. Each applied revision is one log line; a failure
is one line too, and the next round tries again, so the bot keeps answering from what it has.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from bot.storage.migrations import one_line

from .knowledge_base import KnowledgeBase
from .shared import SharedError

log = logging.getLogger(__name__)


async def sync_logged(kb: KnowledgeBase, retry_s: float) -> bool:
    """One sync, logged; False (and a warning line) when it failed."""
    try:
        report = await kb.sync()
    except Exception as exc:  # the shared database, or this instance's own file: never the run
        why = one_line(exc) if isinstance(exc, SharedError) else f"{type(exc).__name__}: {one_line(exc)}"
        log.warning("kb sync failed (%s); trying again in %g s", why, retry_s)
        return False
    if report is not None:  # a revision that changed nothing here (e.g. this instance's own add) is quiet
        level = logging.INFO if report.changed_anything else logging.DEBUG
        log.log(logging.WARNING if report.foreign else level, "%s", report.line())
    return True


async def keep_in_sync(kb: KnowledgeBase, every_s: float, stop: asyncio.Event) -> None:
    """Sync every `every_s` until `stop` (the start-up sync is `running_app`'s)."""
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every_s)
        if not stop.is_set():
            await sync_logged(kb, every_s)
