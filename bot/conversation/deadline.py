"""The answer's deadline: the waits for the model's chunks may take so many seconds in all.

One timer per answer, not one per chunk (`asyncio.timeout` around each wait armed and cancelled a
timer some 30 times an answer, ~4% of the bot's CPU at 20 answers at once). The timer only ever
rings early: the consumer's work between chunks doesn't count, so when it rings the waits so far
are added up and it is set again for what is left, or, with nothing left and the task waiting for
the model, the task is cancelled there and the wait ends in LLMError ("deadline").
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import TypeVar

from bot.llm.client import LLMError, LLMErrorKind

T = TypeVar("T")


class _Waits:
    """The seconds of waiting left, and the one timer that ends a wait once none are."""

    def __init__(self, seconds: float) -> None:
        self._loop = asyncio.get_running_loop()
        self._left = seconds
        self._since: float | None = None  # when the wait under way began; None between waits
        self._task: asyncio.Task[object] | None = None
        self._cancelling = 0  # the task's cancel requests before this wait (its own, not ours)
        self._timer: asyncio.TimerHandle | None = None
        self.expired = False  # the timer cancelled the task's wait

    def begin(self) -> None:
        self._since = self._loop.time()
        if self._task is None:  # once: on 3.11 current_task is Python (per chunk: 1.5% of the samples)
            self._task = asyncio.current_task()
        self._cancelling = self._task.cancelling() if self._task is not None else 0
        if self._timer is None:
            self._timer = self._loop.call_at(self._since + self._left, self._ring)

    def end(self) -> None:
        if self._since is not None:
            self._left -= self._loop.time() - self._since
            self._since = None

    def ours(self) -> bool:
        """The CancelledError that ended the wait came from the deadline alone."""
        return self.expired and self._task is not None and self._task.uncancel() <= self._cancelling

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _ring(self) -> None:
        self._timer = None
        if self._since is None:  # the consumer's turn: the next wait sets the timer again
            return
        now = self._loop.time()
        left = self._left - (now - self._since)
        if left > 0:  # the consumer's time was counted into the first setting: not yet
            self._timer = self._loop.call_at(now + left, self._ring)
        elif self._task is not None:
            self.expired = True
            self._task.cancel()  # lands in the wait: only it runs in the task while _since is set


async def by_deadline(chunks: AsyncGenerator[T, None], seconds: float) -> AsyncGenerator[T, None]:
    """The chunks, as long as waiting for them takes `seconds` in all; then LLMError ("deadline").

    Only the waits for the model count, never the consumer's work between chunks: a slow platform
    doesn't turn a finished answer into a fallback, and no cancellation lands in what the consumer
    awaits. One task reads the chunks: the one that asks for the first.
    """
    waits = _Waits(seconds)
    try:
        while True:
            waits.begin()
            try:
                chunk = await anext(chunks)
            except StopAsyncIteration:
                return
            except asyncio.CancelledError as exc:
                if not waits.ours():
                    raise
                detail = f"no complete answer within the {seconds:g} s deadline"
                raise LLMError(LLMErrorKind.TIMEOUT, detail, reason="deadline") from exc
            finally:
                waits.end()
            yield chunk
    finally:
        waits.close()
        await chunks.aclose()
