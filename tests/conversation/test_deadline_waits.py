"""The answer deadline's one timer, on plain async generators: what it counts and whose cancellation
a wait ends with (the end-to-end cases, through the fake OpenAI, are in test_deadline.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

import pytest

from bot.conversation.deadline import by_deadline
from bot.llm.client import LLMError


async def spaced(gaps: list[float], closed: list[bool]) -> AsyncGenerator[int, None]:
    """One number after each gap; notes whether it was closed."""
    try:
        for n, gap in enumerate(gaps):
            await asyncio.sleep(gap)
            yield n
    finally:
        closed.append(True)


async def test_the_waits_add_up_to_the_deadline_and_end_in_llm_error() -> None:
    closed: list[bool] = []
    got: list[int] = []
    with pytest.raises(LLMError) as raised:
        async for n in by_deadline(spaced([0.1] * 10, closed), 0.35):
            got.append(n)
    assert raised.value.reason == "deadline"
    assert got == [0, 1, 2] and closed == [True]


async def test_the_consumers_time_is_not_counted_and_never_cancelled() -> None:
    """0.05 s waits, 0.2 s of the consumer's own work after each: 1 s in all, 0.25 s of waiting."""
    closed: list[bool] = []
    got: list[int] = []
    async for n in by_deadline(spaced([0.05] * 5, closed), 0.4):
        await asyncio.sleep(0.2)  # the timer rings meanwhile: it is set again, nothing is cancelled
        got.append(n)
    assert got == [0, 1, 2, 3, 4] and closed == [True]


async def test_a_cancellation_from_outside_stays_a_cancellation() -> None:
    """Shutdown cancels the answer while it waits: CancelledError, not the deadline's fallback."""
    closed: list[bool] = []

    async def consume() -> list[int]:
        return [n async for n in by_deadline(spaced([5.0], closed), 10.0)]

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert closed == [True]


async def test_a_stream_that_ends_leaves_no_timer_behind() -> None:
    assert [n async for n in by_deadline(spaced([0.0, 0.0], []), 30.0)] == [0, 1]
    scheduled = asyncio.get_running_loop()._scheduled  # type: ignore[attr-defined]  # the loop's timers
    assert [h for h in scheduled if not h.cancelled() and h._callback.__name__ == "_ring"] == []
