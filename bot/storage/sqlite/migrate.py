"""The SQLite side of the migration runner: transactions on an aiosqlite connection, where versions live.

Each set keeps its version in its own place, as existing databases have it: the store's in
`PRAGMA user_version`, the knowledge base's in its `kb_meta` table (`MetaVersion`).
"""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager
from typing import Protocol

import aiosqlite

from bot.storage.sqlite.transaction import write_transaction


class VersionSlot(Protocol):
    """Where one migration set's version is kept in a SQLite file."""

    async def read(self, db: aiosqlite.Connection) -> int: ...

    async def write(self, db: aiosqlite.Connection, version: int) -> None: ...


class UserVersion:
    """`PRAGMA user_version`: one per file, transactional like any other write."""

    async def read(self, db: aiosqlite.Connection) -> int:
        rows = list(await db.execute_fetchall("PRAGMA user_version"))
        return int(rows[0][0]) if rows else 0

    async def write(self, db: aiosqlite.Connection, version: int) -> None:
        await db.execute(f"PRAGMA user_version = {int(version)}")


class MetaVersion:
    """A key in a two-column (key, value) table, created on the first write."""

    def __init__(self, table: str, key: str = "schema_version") -> None:
        if not table.isidentifier():
            raise ValueError(f"not a table name: {table!r}")
        self.table = table
        self.key = key

    async def read(self, db: aiosqlite.Connection) -> int:
        exists = list(
            await db.execute_fetchall(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (self.table,)
            )
        )
        if not exists:
            return 0
        rows = list(await db.execute_fetchall(f"SELECT value FROM {self.table} WHERE key = ?", (self.key,)))
        return int(rows[0][0]) if rows else 0

    async def write(self, db: aiosqlite.Connection, version: int) -> None:
        await db.execute(
            f"CREATE TABLE IF NOT EXISTS {self.table} (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
        )
        await db.execute(
            f"INSERT INTO {self.table} (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (self.key, str(version)),
        )


class SQLiteTarget:
    """`MigrationTarget` on one aiosqlite connection (autocommit or not: transactions are explicit).

    `lock` is held by every writer on a shared connection, so no other write lands inside a
    migration's transaction.
    """

    def __init__(self, db: aiosqlite.Connection, slot: VersionSlot, lock: asyncio.Lock | None = None) -> None:
        self._db = db
        self._slot = slot
        self._lock = lock or asyncio.Lock()

    async def describe(self) -> str:
        try:
            rows = list(await self._db.execute_fetchall("SELECT file FROM pragma_database_list WHERE seq=0"))
        except (aiosqlite.Error, ValueError):  # ValueError: the connection is closed
            rows = []
        return f"database {rows[0][0]}" if rows and rows[0][0] else "database"

    async def version(self, name: str) -> int:
        return await self._slot.read(self._db)

    def transaction(self) -> AbstractAsyncContextManager[None]:
        # IMMEDIATE: a second process waits here, then sees the version the first one reached.
        return write_transaction(self._db, self._lock)

    async def execute(self, statement: str) -> None:
        await self._db.execute(statement)

    async def set_version(self, name: str, version: int) -> None:
        await self._slot.write(self._db, version)
