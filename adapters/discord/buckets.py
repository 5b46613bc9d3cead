"""discord.py's rate-limit buckets swept at most once a minute, not on every new bucket.

discord.py keeps a bucket per route and channel and, once it holds 256, looks at every one of them
each time it adds another, to drop those idle for five minutes (HTTPClient._try_clear_expired_
ratelimits). A support bot opens a new DM channel per new user, so past 256 channels in five
minutes each new one costs a walk over all the others (in bench/, 20 answers at once, ~2,400
buckets: a fifth of the bot's samples under py-spy, 8-16% of its CPU per answer). Sweeping at most
once a minute keeps the memory bounded (buckets idle for five minutes still go) at a constant cost
per bucket. A discord.py without this method is left as it is.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

SWEEP_EVERY_S = 60.0


def pace_bucket_sweeps(
    http: Any, every_s: float = SWEEP_EVERY_S, clock: Callable[[], float] = time.monotonic
) -> bool:
    """Wrap `http`'s sweep so it runs at most once per `every_s`; False if this discord.py has none."""
    sweep = getattr(http, "_try_clear_expired_ratelimits", None)
    if not callable(sweep):
        return False
    last = [float("-inf")]

    def paced() -> None:
        now = clock()
        if now - last[0] >= every_s:
            last[0] = now
            sweep()

    http._try_clear_expired_ratelimits = paced
    return True
