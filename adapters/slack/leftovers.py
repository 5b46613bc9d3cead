"""Finding what a crash left of an answer: messages the bot posted after the question whose ids were
never noted (Slack has no idempotency key, so a kill between a post and its noting leaves one).

Read with conversations.replies (a thread) or conversations.history (a DM's top level); needs the
history scopes the bot already asks for to follow threads. Without them nothing is found.
"""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.api import error_code
from bot.handoff.ports import Delivery

log = logging.getLogger(__name__)

SCANNED = 100  # messages read after the question


async def leftovers(
    client: AsyncWebClient, bot_user: str | None, channel: str, thread: str | None, delivery: Delivery
) -> list[str]:
    """The ts of the bot's messages after the question that belong to no noted answer, oldest first."""
    question = delivery.question_id.rpartition(":")[2]  # "channel:ts", the id a Slack message is stored by
    if not bot_user or not _is_ts(question):
        return []
    try:
        if thread is None:
            resp = await client.conversations_history(channel=channel, oldest=question, limit=SCANNED)
        else:
            resp = await client.conversations_replies(
                channel=channel, ts=thread, oldest=question, limit=SCANNED
            )
    except SlackApiError as exc:
        log.info("Slack: could not look for a half-posted answer in %s: %s", channel, error_code(exc))
        return []
    known = delivery.others | set(delivery.shown)
    later = (delivery.next_question or "").rpartition(":")[2]
    until = float(later) if _is_ts(later) else float("inf")  # later answers come after their question
    found = [
        str(m["ts"])
        for m in resp.get("messages") or []
        if isinstance(m, dict) and m.get("user") == bot_user and _is_ts(m.get("ts"))
        and float(question) < float(m["ts"]) < until and str(m["ts"]) not in known
    ]  # fmt: skip
    return sorted(found, key=float)


def _is_ts(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        float(value)
    except ValueError:
        return False
    return True
