"""Start-up sweep: answer messages that were stored but never answered because the bot stopped.

The manager stores every message before answering it, so a crash or restart mid-answer leaves it
'received'; platforms won't redeliver an event they saw acknowledged, so we answer it ourselves.
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
        port = app.handoff.port(key.platform)
        if port is None:
            continue  # e.g. a console conversation, or a platform not started this time
        done = await app.manager.recover(inbound, key)
        if done is None or done.reply_id is None:
            continue
        try:
            posted = await port.send_answer(key, done)  # formatted, with buttons, like a live answer
        except Exception as exc:  # the platform refused: recorded, and the sweep goes on
            log.warning("could not deliver the recovered answer to message %s: %s", inbound.id, exc)
            await app.manager.mark_delivery_failed(done.reply_id, type(exc).__name__)
            continue
        await app.manager.mark_delivered(done.reply_id, posted)
        answered += 1
    if answered:
        log.warning("answered %s message(s) left unanswered by the last stop", answered)
    return answered
