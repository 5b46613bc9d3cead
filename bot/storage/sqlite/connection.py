"""The SQLite store's one long-lived aiosqlite connection: opening it (WAL, migrations), its write lock."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiosqlite

from bot.storage.migrations import migrate
from bot.storage.sqlite.migrate import SQLiteTarget, UserVersion
from bot.storage.sqlite.schema import STORE


class SQLiteConnection:
    """The connection every part of the SQLite store shares. Writes that span statements hold the lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: aiosqlite.Connection | None = None
        self._write = asyncio.Lock()

    @property
    def db(self) -> aiosqlite.Connection:
        """The shared connection (the knowledge base keeps its tables in the same file)."""
        if self._db is None:
            raise RuntimeError("store is not open")
        return self._db

    @property
    def write_lock(self) -> asyncio.Lock:
        """Held by every writer on the shared connection, so no transaction takes in another's writes."""
        return self._write

    async def open(self) -> None:
        """Connect and bring the schema to the latest version; a `MigrationError` closes it again."""
        if self.path.parent != Path(""):
            await asyncio.to_thread(self.path.parent.mkdir, parents=True, exist_ok=True)
        # Autocommit: every statement is its own transaction unless we BEGIN explicitly.
        self._db = await aiosqlite.connect(self.path, isolation_level=None)
        try:
            await self._db.execute("PRAGMA busy_timeout = 5000")
            await _wal(self._db)
            await self._db.execute("PRAGMA synchronous = NORMAL")  # durable across app crashes in WAL
            await self._db.execute("PRAGMA foreign_keys = ON")
            await migrate(SQLiteTarget(self._db, UserVersion(), self._write), STORE)
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None


async def _wal(db: aiosqlite.Connection, tries: int = 50) -> None:
    """Switch a new file to WAL. The switch needs the file to itself, and SQLite refuses it at once
    (no busy wait) while another process is opening the same new file: try again for a while."""
    for attempt in range(tries):
        try:
            await db.execute("PRAGMA journal_mode = WAL")
            return
        except aiosqlite.OperationalError as exc:
            if "locked" not in str(exc) or attempt == tries - 1:
                raise
            await asyncio.sleep(0.05)
