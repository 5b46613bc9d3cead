"""Watching one message on its way through the core: its metrics, and its ids on every log line."""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator
from contextlib import aclosing

from bot.events import IncomingMessage, ReplyDone, ReplyEvent
from bot.logs import handling
from bot.ops.metrics import Metrics


async def observed(
    metrics: Metrics, msg: IncomingMessage, began: float, events: AsyncGenerator[ReplyEvent, None]
) -> AsyncGenerator[ReplyEvent, None]:
    """`events` (the answer to `msg`, received at `began` on time.monotonic()) unchanged; counts its
    reply, and names the message in the log meanwhile. (The message itself is counted on receipt.)"""
    platform = msg.key.platform
    with handling(platform, msg.message_id):
        async with aclosing(events) as stream:
            async for event in stream:
                if isinstance(event, ReplyDone):
                    metrics.replied(platform, event, time.monotonic() - began)
                yield event
