"""Times one answer as the user sees it, from the message's receipt: the sign, the first text, the
whole answer (adapters mark the moments, the core stores them: SupportService.delivered)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from bot.events import AnswerTimings


class AnswerClock:
    """Each moment is kept the first time it is marked."""

    def __init__(
        self, received_at: datetime, now: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self._start = received_at
        self._now = now
        self._sign: float | None = None
        self._first: float | None = None
        self._complete: float | None = None

    def _elapsed(self) -> float:
        return max((self._now() - self._start).total_seconds(), 0.0)

    def sign(self) -> None:
        """The visible sign ("typing…", 👀, an assistant status) is up."""
        if self._sign is None:
            self._sign = self._elapsed()

    def first_token(self) -> None:
        """The first text of the answer is on screen."""
        if self._first is None:
            self._first = self._elapsed()

    def complete(self) -> None:
        """The whole answer is there (and so its first text, for an answer posted whole)."""
        if self._complete is None:
            self._complete = self._elapsed()
        if self._first is None:
            self._first = self._complete

    def timings(self) -> AnswerTimings:
        return AnswerTimings(self._sign, self._first, self._complete)
