"""Readiness: the checks behind /readyz — the database answers, every started platform is connected.

A check returns None when all is well, else a few words on what is not; each is bounded by a
timeout, so a hung database makes /readyz say so instead of hanging the prober.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

from bot.platforms import PlatformAdapter
from bot.storage.store import ConversationStore

Check = Callable[[], Awaitable[str | None]]
CHECK_TIMEOUT_S = 2.0


class Readiness:
    """Named checks, run together on each /readyz."""

    def __init__(self, timeout_s: float = CHECK_TIMEOUT_S) -> None:
        self._timeout = timeout_s
        self._checks: dict[str, Check] = {}

    def add(self, name: str, check: Check) -> None:
        """Add (or replace) the check called `name`."""
        self._checks[name] = check

    async def report(self) -> dict[str, str]:
        """Each check's result: "ok", or what is wrong."""
        names = list(self._checks)
        results = await asyncio.gather(*(self._run(self._checks[name]) for name in names))
        return dict(zip(names, results, strict=True))

    async def _run(self, check: Check) -> str:
        try:
            async with asyncio.timeout(self._timeout):
                problem = await check()
        except TimeoutError:
            return f"no answer within {self._timeout:g} s"
        except Exception as exc:  # a check that fails says why; /readyz never turns into a 500
            return f"{type(exc).__name__}: {exc}"
        return "ok" if problem is None else problem


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


def database_check(store: ConversationStore, path: Path | None = None) -> Check:
    """A query through the store; for a database file, also that the file at `path` is still the one
    opened (a deleted or replaced file keeps answering from the old inode, and loses what is written)."""
    opened = _identity(path) if path is not None else None

    async def check() -> str | None:
        if path is not None and opened is not None and _identity(path) != opened:
            return f"the database file {path} was deleted or replaced since the start"
        await store.ping()
        return None

    return check


def platform_check(adapter: PlatformAdapter) -> Check:
    async def check() -> str | None:
        return None if await adapter.connected() else "not connected"

    return check


async def starting() -> str | None:
    """A platform not started yet."""
    return "starting"
