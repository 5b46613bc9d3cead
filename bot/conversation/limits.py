"""Per-user limits checked before any model call: how many messages a minute, how long a message."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

WINDOW_S = 60.0
PRUNE_AT = 10_000  # users tracked before idle ones are dropped


class UserRate:
    """A sliding one-minute window of message times per user (per process; 0 = no limit)."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._per_minute = per_minute
        self._clock = clock
        self._seen: dict[tuple[str, str], deque[float]] = {}

    def allow(self, platform: str, user_id: str) -> bool:
        """Count this message; False when the user already sent `per_minute` in the last minute."""
        if self._per_minute <= 0:
            return True
        now = self._clock()
        times = self._seen.setdefault((platform, user_id), deque())
        while times and now - times[0] >= WINDOW_S:
            times.popleft()
        if len(times) >= self._per_minute:
            return False
        times.append(now)
        if len(self._seen) > PRUNE_AT:
            self._prune(now)
        return True

    def _prune(self, now: float) -> None:
        for key in [k for k, t in self._seen.items() if not t or now - t[-1] >= WINDOW_S]:
            del self._seen[key]
