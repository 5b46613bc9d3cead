"""The Postgres side of the migration runner: one connection, versions in `schema_versions`, and a lock.

`migration_lock` holds a session advisory lock around the whole run, so instances starting together
migrate one at a time: the second waits, then finds the versions done. The lock is taken before any
transaction begins, not inside one: a transaction that waited inside for another's DDL would still
see the catalog as it was when it began ("relation already exists"); one begun after the wait
sees it whole.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from bot.storage.postgres.locks import MIGRATIONS, advisory_key

VERSIONS = "schema_versions"
Conn = asyncpg.Connection | PoolConnectionProxy


@asynccontextmanager
async def migration_lock(conn: Conn) -> AsyncIterator[None]:
    """Held by one connection at a time across every instance; released on exit or when the
    connection dies with its process."""
    key = advisory_key(MIGRATIONS)
    await conn.execute("SELECT pg_advisory_lock($1)", key)
    try:
        yield
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", key)


class PostgresTarget:
    """`MigrationTarget` on one asyncpg connection (used inside `migration_lock`)."""

    def __init__(self, conn: Conn, where: str) -> None:
        self._conn = conn
        self._where = where

    async def describe(self) -> str:
        return f"database {self._where}"

    async def version(self, name: str) -> int:
        exists = await self._conn.fetchval("SELECT to_regclass($1) IS NOT NULL", VERSIONS)
        if not exists:
            return 0
        found = await self._conn.fetchval(f"SELECT version FROM {VERSIONS} WHERE name = $1", name)
        return int(found) if found is not None else 0

    def transaction(self) -> AbstractAsyncContextManager[None]:
        return self._transaction()

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[None]:
        async with self._conn.transaction():
            yield

    async def execute(self, statement: str) -> None:
        await self._conn.execute(statement)

    async def set_version(self, name: str, version: int) -> None:
        await self._conn.execute(
            f"CREATE TABLE IF NOT EXISTS {VERSIONS} (name TEXT PRIMARY KEY, version INTEGER NOT NULL)"
        )
        await self._conn.execute(
            f"INSERT INTO {VERSIONS} (name, version) VALUES ($1, $2)"
            " ON CONFLICT (name) DO UPDATE SET version = excluded.version",
            name,
            version,
        )
