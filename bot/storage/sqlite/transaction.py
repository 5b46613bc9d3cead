"""One explicit write transaction on a shared aiosqlite connection, for writes that must land together."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiosqlite


@asynccontextmanager
async def write_transaction(db: aiosqlite.Connection, lock: asyncio.Lock) -> AsyncIterator[None]:
    """BEGIN IMMEDIATE … COMMIT, or ROLLBACK on an exception. `lock` is held by every writer on `db`,
    so no other write lands inside; IMMEDIATE takes SQLite's write lock at once, so another
    process's writer waits (busy_timeout) instead of failing halfway."""
    async with lock:
        await db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            if db.in_transaction:  # some errors (a full disk) have rolled it back already
                await db.execute("ROLLBACK")
            raise
        await db.execute("COMMIT")
