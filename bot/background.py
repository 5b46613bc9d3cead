"""The background jobs of `supportbot run` that one instance does at a time: the recovery sweep,
the outbox (pending and failed replies, bot/conversation/outbox.py), escalation reminders and
retention.

Every instance asks the store for the leadership (`ConversationStore.leadership`; with SQLite the
one process always has it, with Postgres an advisory lock); the holder runs the jobs until it stops,
the others ask again every `retry_s`, so when the leader dies another takes over. A leader whose
lock's connection drops while it lives learns it within seconds (the Lead is `lost`), stops the
jobs and asks again, so it overlaps a new leader for those seconds at most. Only the leader sweeps
the outbox, so two instances never deliver the same pending reply; another instance's failed live
delivery is left to it by `retry_later`, and a reply another instance has just written is left to
that instance's live delivery (the outbox's YOUNG_S). The sweep runs every `sweep_s`: on Postgres
it also answers what a dead instance stored but never answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from bot.app import App
from bot.conversation.recovery import answer_unanswered
from bot.storage.retention import run_retention

log = logging.getLogger(__name__)

JOBS = "background"


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


async def _sweep(app: App, began: datetime, stop: asyncio.Event, every_s: float) -> None:
    """What an earlier run left unanswered, once; on a shared store, again every `every_s`, for what
    instances that died since left (the store tells their messages from live ones)."""
    while not stop.is_set():
        try:
            await answer_unanswered(app, datetime.now(UTC) if app.store.shared else began)
        except Exception:
            log.exception("recovery sweep failed; trying again later")
        if not app.store.shared:
            return
        await _wait(stop, every_s)


async def _lead(app: App, began: datetime, stop: asyncio.Event, sweep_s: float) -> None:
    """Run every job until `stop`; the sweep (answers in flight) is cancelled then, the others finish."""
    sweep = asyncio.create_task(_sweep(app, began, stop, sweep_s))
    days = app.config.settings.database.retention_days
    minutes = app.config.settings.bot.recover_minutes
    try:
        await asyncio.gather(
            app.handoff.reminders.run(stop),
            run_retention(app.store, days, stop),
            app.outbox.run(stop, minutes),
            stop.wait(),
        )
    finally:
        sweep.cancel()
        await asyncio.gather(sweep, return_exceptions=True)


async def run_background(
    app: App, began: datetime, stop: asyncio.Event, retry_s: float = 5.0, sweep_s: float = 30.0
) -> None:
    """Lead the background jobs whenever no other live instance does, until `stop`. `began`: this
    run's start (on SQLite, messages stored before it were left by an earlier run)."""
    while not stop.is_set():
        try:
            async with app.store.leadership(JOBS) as lead:
                if lead:
                    log.info("this instance runs the background jobs (sweep, outbox, reminders, retention)")
                    async with _either(stop, lead.lost) as done:
                        await _lead(app, began, done, sweep_s)
                    if stop.is_set():
                        return
                    # The database let go of the jobs' lock: another instance may run them now.
                    log.warning("this instance stopped the background jobs; asking for them again")
        except Exception:  # the database is away: try again, the platforms keep being served
            log.exception("could not ask for the background jobs' leadership")
        await _wait(stop, retry_s)


@asynccontextmanager
async def _either(*events: asyncio.Event) -> AsyncIterator[asyncio.Event]:
    """An event set as soon as any of `events` is."""
    either = asyncio.Event()

    async def relay(event: asyncio.Event) -> None:
        await event.wait()
        either.set()

    relays = [asyncio.create_task(relay(e)) for e in events]
    try:
        yield either
    finally:
        for task in relays:
            task.cancel()
        await asyncio.gather(*relays, return_exceptions=True)
