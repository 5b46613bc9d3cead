"""One asyncio lock per key, created on demand and dropped when nobody holds or waits for it; and,
given `across`, a lock other processes honour too (the store's `hold_thread`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Hashable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any


class KeyedLocks:
    """Serialises work per key (e.g. per conversation) without growing with the number of keys.

    `across(key)`, entered once this process's own lock is held, extends the lock to every process
    sharing the store; this process's waiters still queue in arrival order before it.
    """

    def __init__(self, across: Callable[[Any], AbstractAsyncContextManager[None]] | None = None) -> None:
        self._locks: dict[Hashable, tuple[asyncio.Lock, int]] = {}
        self._across = across

    def __len__(self) -> int:
        return len(self._locks)

    def busy(self, key: Hashable) -> bool:
        """True while someone holds or waits for `key`'s lock (taking it would wait)."""
        return key in self._locks

    @asynccontextmanager
    async def hold(self, key: Hashable) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                if self._across is None:
                    yield
                else:
                    async with self._across(key):
                        yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)
