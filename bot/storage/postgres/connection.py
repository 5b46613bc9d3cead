"""The Postgres store's connection pools: opening them (migrations under a lock), and safe descriptions.

Two pools: `pool` for the store's statements, and `lock_pool` whose connections each hold one
session advisory lock (a conversation being answered, the leader's job lock) for as long as it is
held. Keeping them apart means holding many locks can never starve the statements their holders
run, and a process that dies drops its connections, so Postgres releases its locks at once.
"""

from __future__ import annotations

import asyncio
import uuid
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from bot.storage.migrations import migrate
from bot.storage.postgres.locks import INSTANCE, advisory_key
from bot.storage.postgres.migrate import PostgresTarget, migration_lock
from bot.storage.postgres.schema import STORE
from bot.storage.store import StoreOpenError

FIX = "set database.url (or SUPPORTBOT_DATABASE__URL) to a Postgres database this user can reach"
CONNECT_TIMEOUT_S = 10.0


def safe_url(url: str) -> str:
    """`url` without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _why(exc: BaseException) -> str:
    if isinstance(exc, asyncpg.InvalidCatalogNameError):
        return "the database does not exist"
    if isinstance(exc, asyncpg.InvalidPasswordError | asyncpg.InvalidAuthorizationSpecificationError):
        return "the server refused the user or password"
    if isinstance(exc, TimeoutError):
        return f"no answer within {CONNECT_TIMEOUT_S:g} s"
    if isinstance(exc, OSError):
        return exc.strerror or str(exc) or type(exc).__name__
    return " ".join(str(exc).split()) or type(exc).__name__


class PostgresConnection:
    """The pools every part of the Postgres store shares."""

    def __init__(self, url: str, pool_size: int = 10, lock_pool_size: int = 20) -> None:
        self.url = url
        self._pool_size = pool_size
        self._lock_pool_size = lock_pool_size
        self._pool: asyncpg.Pool | None = None
        self._lock_pool: asyncpg.Pool | None = None
        # This process among the instances sharing the database: it stamps the messages it stores
        # and holds its advisory lock while open, so the others know whether it still runs.
        self.instance = uuid.uuid4().hex
        self._alive: asyncpg.Connection | None = None

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("store is not open")
        return self._pool

    @property
    def lock_pool(self) -> asyncpg.Pool:
        if self._lock_pool is None:
            raise RuntimeError("store is not open")
        return self._lock_pool

    def describe(self) -> str:
        return safe_url(self.url)

    async def open(self) -> None:
        """Connect and bring the schema to the latest version. A database that can't be reached
        raises `StoreOpenError`, a schema this code can't use `MigrationError`; either leaves nothing open."""
        try:
            self._pool = await asyncpg.create_pool(
                self.url, min_size=1, max_size=self._pool_size, timeout=CONNECT_TIMEOUT_S
            )
            self._lock_pool = await asyncpg.create_pool(
                self.url, min_size=0, max_size=self._lock_pool_size, timeout=CONNECT_TIMEOUT_S
            )
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            await self.close()
            raise StoreOpenError(
                f"cannot connect to the database {self.describe()} ({_why(exc)}): {FIX}"
            ) from exc
        try:
            async with self.pool.acquire() as conn, migration_lock(conn):
                await migrate(PostgresTarget(conn, self.describe()), STORE)
            self._alive = await asyncpg.connect(self.url, timeout=CONNECT_TIMEOUT_S)
            await self._alive.execute("SELECT pg_advisory_lock($1)", advisory_key(INSTANCE + self.instance))
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        alive, self._alive = self._alive, None
        if alive is not None:
            alive.terminate()  # the instance's lock goes with its connection
        pool, lock_pool, self._pool, self._lock_pool = self._pool, self._lock_pool, None, None
        if lock_pool is not None:
            lock_pool.terminate()  # whatever is still held (a job's leadership) is let go at once
        if pool is not None:
            try:
                await asyncio.wait_for(pool.close(), timeout=5)
            except TimeoutError:
                pool.terminate()
