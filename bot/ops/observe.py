"""Watching one message on its way through the core: its metrics, and its ids on every log line."""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator
from contextlib import aclosing

from bot.events import IncomingMessage, ReplyDone, ReplyEvent
from bot.logs import handling
from bot.ops.metrics import Metrics


async def observed(
    metrics: Metrics, msg: IncomingMessage, events: AsyncGenerator[ReplyEvent, None]
) -> AsyncGenerator[ReplyEvent, None]:
    """`events` unchanged; counts the message and its reply, and names it in the log meanwhile."""
    platform = msg.key.platform
    began = time.monotonic()  # the platform's own timestamp may come from a clock of its own
    metrics.received.labels(platform).inc()
    with handling(platform, msg.message_id):
        async with aclosing(events) as stream:
            async for event in stream:
                if isinstance(event, ReplyDone):
                    metrics.replied(platform, event, time.monotonic() - began)
                yield event
