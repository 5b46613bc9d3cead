"""Start-up sweep: answer messages that were stored but never answered because the bot stopped.

The manager stores every message before the platform is acknowledged, so a crash or restart
mid-answer leaves it 'received'; platforms won't redeliver an event they saw acknowledged, so we
answer it ourselves, through the outbox (which edits a half-written answer into the whole one).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bot.app import App

log = logging.getLogger(__name__)


async def answer_unanswered(app: App, started: datetime) -> int:
    """Answer recent messages stored before `started` (this run's start) and never answered.

    Messages that arrive after the adapters started are being answered live; the bound keeps the
    sweep off them. Returns how many were answered.
    """
    minutes = app.config.settings.bot.recover_minutes
    if minutes <= 0:
        return 0
    since = started - timedelta(minutes=minutes)
    answered = 0
    for inbound, key in await app.store.abandoned(since, started):  # no running process will answer
        if app.handoff.port(key.platform) is None:
            continue  # e.g. a console conversation, or a platform not started this time
        done = await app.manager.recover(inbound, key)
        if done is None or done.reply_id is None:
            continue
        # Formatted, with buttons, like a live answer; what the stop left half-written is replaced.
        answered += await app.outbox.deliver(key, done, inbound)
    if answered:
        log.warning("answered %s message(s) left unanswered by the last stop", answered)
    return answered
