"""The SQLite store's one long-lived aiosqlite connection: opening it (WAL, migrations), its write lock."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path

import aiosqlite

from bot.storage.migrations import MigrationSet, migrate
from bot.storage.sqlite.migrate import SQLiteTarget, UserVersion
from bot.storage.sqlite.schema import STORE
from bot.storage.store import StoreOpenError

FIX = "set database.path (or SUPPORTBOT_DATABASE__PATH) to an SQLite file in a folder this user can write"


class SQLiteConnection:
    """The connection every part of the SQLite store shares. Writes that span statements hold the lock."""

    def __init__(self, path: Path, schema: MigrationSet | None = STORE) -> None:
        """`schema=None` opens the file without the store's tables (the knowledge base's own index
        beside a Postgres store)."""
        self.path = path
        self._schema = schema
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
        """Connect and bring the schema to the latest version. A path SQLite can't use raises
        `StoreOpenError`, a schema this code can't use `MigrationError`; either leaves nothing open."""
        if self.path.parent != Path(""):
            try:
                await asyncio.to_thread(self.path.parent.mkdir, parents=True, exist_ok=True)
            except OSError as exc:
                why = exc.strerror or str(exc)
                raise StoreOpenError(f"cannot create the folder {self.path.parent} ({why}): {FIX}") from exc
        try:
            await asyncio.to_thread(_create_private, self.path)
            await self._connect()
        except sqlite3.Error as exc:  # aiosqlite raises sqlite3's own errors
            raise StoreOpenError(
                f"cannot open the database {self.path} ({_why(self.path, exc)}): {FIX}"
            ) from exc

    async def _connect(self) -> None:
        # Autocommit: every statement is its own transaction unless we BEGIN explicitly.
        self._db = await aiosqlite.connect(self.path, isolation_level=None)
        try:
            await self._db.execute("PRAGMA busy_timeout = 5000")
            await _wal(self._db)
            await self._db.execute("PRAGMA synchronous = NORMAL")  # durable across app crashes in WAL
            await self._db.execute("PRAGMA foreign_keys = ON")
            if self._schema is not None:
                await migrate(SQLiteTarget(self._db, UserVersion(), self._write), self._schema)
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None


def _why(path: Path, exc: sqlite3.Error) -> str:
    """What SQLite's error means for this path, in words."""
    if path.is_dir():
        return "it is a folder"
    if isinstance(exc, sqlite3.DatabaseError) and "not a database" in str(exc):
        return "the file is not an SQLite database"
    if "unable to open" in str(exc):
        return "SQLite can't open or create a file there"
    return str(exc)


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


def _create_private(path: Path) -> None:
    """Create a new database file readable by this user only (SQLite gives its -wal and -shm files
    the same mode); an existing file keeps the mode its operator chose."""
    if str(path) == ":memory:":
        return
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    except OSError:
        pass  # a folder, a path SQLite can't use: the connect that follows says so in one line
