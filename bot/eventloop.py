"""The event loop the service runs on: uvloop where it is installed (not on Windows), else asyncio's.

The service spends much of its CPU in the loop itself (sockets, timers, the store's thread handing
results back): uvloop does that work in C. `supportbot run` and the benches' subjects (bot and floor
alike, so the floor stays honest) start through `run`; the other commands keep asyncio's loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run `main` to the end on a new uvloop loop, or asyncio's where uvloop is not installed."""
    try:
        import uvloop
    except ImportError:  # Windows, or installed without it: the same code on the standard loop
        return asyncio.run(main)
    return uvloop.run(main)
