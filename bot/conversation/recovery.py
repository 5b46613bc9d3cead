"""Start-up sweep: answer messages that were stored but never answered because the bot stopped.

The manager stores every message before the platform is acknowledged, so a crash or restart
mid-answer leaves it 'received'; platforms won't redeliver an event they saw acknowledged, so we
answer it ourselves, through the outbox (which edits a half-written answer into the whole one).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from bot.app import App
from bot.events import ThreadKey
from bot.storage.store import StoredMessage

log = logging.getLogger(__name__)

RECOVER_AT_ONCE = 8  # conversations answered at once by the sweep


async def answer_unanswered(app: App, started: datetime) -> int:
    """Answer recent messages stored before `started` (this run's start) and never answered.

    Messages that arrive after the adapters started are being answered live; the bound keeps the
    sweep off them. Conversations are answered side by side (RECOVER_AT_ONCE at a time), each
    one's messages in the order they were stored, so a kill that left many behind is made good in
    about the time of a few answers, not of all of them. Returns how many were answered.
    """
    minutes = app.config.settings.bot.recover_minutes
    if minutes <= 0:
        return 0
    since = started - timedelta(minutes=minutes)
    queues: dict[int, list[tuple[StoredMessage, ThreadKey]]] = {}
    for inbound, key in await app.store.abandoned(since, started):  # no running process will answer
        if app.handoff.port(key.platform) is not None:  # else e.g. a console conversation
            queues.setdefault(inbound.conversation_id, []).append((inbound, key))
    room = asyncio.Semaphore(RECOVER_AT_ONCE)

    async def answer_in_order(queue: list[tuple[StoredMessage, ThreadKey]]) -> int:
        answered = 0
        async with room:
            for inbound, key in queue:
                done = await app.manager.recover(inbound, key)
                if done is None or done.reply_id is None:
                    continue
                # Formatted, with buttons, like a live answer; what the stop left half-written is replaced.
                answered += await app.outbox.deliver(key, done, inbound)
        return answered

    results = await asyncio.gather(*(answer_in_order(q) for q in queues.values()), return_exceptions=True)
    answered = sum(r for r in results if isinstance(r, int))
    if answered:
        log.warning("answered %s message(s) left unanswered by the last stop", answered)
    for failed in results:
        if isinstance(failed, BaseException):  # the others were answered; the caller logs this one
            raise failed
    return answered
