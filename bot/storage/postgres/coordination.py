"""Several instances on one Postgres database: per-conversation order, one leader per job, and the
messages a dead instance left unanswered.

Every lock is a session advisory lock on a connection of `lock_pool`, so a process killed outright
loses its connections and Postgres releases its locks at once; nothing needs to expire.
- A conversation's lock is held while one of its messages is answered. Taking it, an instance also
  checks that the conversation's oldest unanswered message is its own (or its instance is gone);
  if a live instance has an older one, it lets go and tries again, so answers follow the order the
  messages were stored in even when consecutive ones reached different instances.
- A job's lock (`leadership`) is tried, never waited for: its holder runs the job; the others try
  again later and take over when the holder dies.
- Each instance holds its own lock while it runs (connection.py); the sweep answers only messages
  whose instance no longer holds one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

from asyncpg.pool import PoolConnectionProxy

from bot.events import ThreadKey
from bot.storage.postgres.connection import PostgresConnection
from bot.storage.postgres.locks import CONVERSATION, INSTANCE, LEADER, advisory_key
from bot.storage.postgres.rows import (
    MESSAGE_COLUMNS,
    THREAD_KEY_COLUMNS,
    key_parts,
    message,
    prefixed,
    thread_key,
)
from bot.storage.store import Lead, StoredMessage

log = logging.getLogger(__name__)

ORDER_WAIT_S = 15.0  # past this, an older message another instance holds no longer holds this one up
ORDER_POLL_S = 0.02
LEAD_CHECK_S = 2.0  # how often a leader checks it still holds its jobs' locks (and for how long)

_OLDEST_PENDING = (
    "SELECT m.owner FROM messages m JOIN conversations c ON c.id = m.conversation_id"
    " WHERE c.platform = $1 AND c.workspace = $2 AND c.channel = $3 AND c.thread = $4"
    " AND m.role = 'user' AND m.status = 'received'"
    " AND NOT EXISTS (SELECT 1 FROM messages r WHERE r.reply_to = m.id) ORDER BY m.id LIMIT 1"
)


async def _unlock(conn: PoolConnectionProxy, key: int) -> None:
    """Release `key`; if that fails the connection goes, and its locks with it."""
    try:
        await conn.execute("SELECT pg_advisory_unlock($1)", key)
    except Exception:
        log.warning("could not release an advisory lock; dropping its connection")
        conn.terminate()


async def _unlock_all(conn: PoolConnectionProxy, keys: list[int]) -> None:
    # A store closed meanwhile has dropped the connection, and the server its locks with it.
    with contextlib.suppress(Exception):
        for key in keys:
            if conn.is_closed():
                return
            await _unlock(conn, key)


async def _watch(conn: PoolConnectionProxy, lead: Lead, jobs: str) -> None:
    """Set `lead.lost` once the connection holding its locks stops answering: the server has let go
    of them (or soon will), and another instance may take them."""
    while True:
        await asyncio.sleep(LEAD_CHECK_S)
        try:
            await asyncio.wait_for(conn.fetchval("SELECT 1"), LEAD_CHECK_S)
        except Exception as exc:  # closed, reset or silent: the locks can't be counted on any more
            why = type(exc).__name__
            log.warning("lost the database connection holding %s (%s); stopping them", jobs, why)
            lead.lost.set()
            conn.terminate()  # so the server drops the locks too, if it hasn't yet
            return


class PostgresCoordination(PostgresConnection):
    """The coordination part of `PostgresStore`."""

    async def _running(self, conn: PoolConnectionProxy, instance: str | None) -> bool:
        """True while `instance` holds its lock (it is running); this instance always runs."""
        if instance is None:
            return False  # e.g. rows copied from SQLite
        if instance == self.instance:
            return True
        key = advisory_key(INSTANCE + instance)
        if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", key):
            return True
        await conn.execute("SELECT pg_advisory_unlock($1)", key)
        return False

    shared = True

    async def read_back_due(self, platform: str, shard: int, began: datetime) -> datetime:
        due: datetime = await self.pool.fetchval(
            "INSERT INTO read_backs (platform, shard, due_since) VALUES ($1, $2, $3)"
            " ON CONFLICT (platform, shard) DO UPDATE"
            " SET due_since = LEAST(read_backs.due_since, excluded.due_since) RETURNING due_since",
            platform,
            shard,
            began,
        )
        return due

    async def read_back_done(self, platform: str, shard: int, since: datetime) -> None:
        await self.pool.execute(
            "DELETE FROM read_backs WHERE platform = $1 AND shard = $2 AND due_since <= $3",
            platform,
            shard,
            since,
        )

    async def abandoned(self, since: datetime, before: datetime) -> list[tuple[StoredMessage, ThreadKey]]:
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                f"SELECT {prefixed(MESSAGE_COLUMNS, 'm')}, m.owner, {THREAD_KEY_COLUMNS}"
                " FROM messages m JOIN conversations c ON c.id = m.conversation_id"
                " WHERE m.status = 'received' AND m.role = 'user' AND m.created_at >= $1"
                " AND m.created_at < $2"
                " AND NOT EXISTS (SELECT 1 FROM messages r WHERE r.reply_to = m.id) ORDER BY m.id",
                since,
                before,
            )
            gone = {o for o in {r["owner"] for r in rows} if not await self._running(conn, o)}
        return [(message(r), thread_key(r)) for r in rows if r["owner"] in gone]

    async def _first_in_line(self, conn: PoolConnectionProxy, lock: int, key: ThreadKey) -> None:
        """Take `lock` once no other live instance has an older unanswered message in the conversation."""
        deadline = asyncio.get_running_loop().time() + ORDER_WAIT_S
        while True:
            await conn.execute("SELECT pg_advisory_lock($1)", lock)
            owner = await conn.fetchval(_OLDEST_PENDING, *key_parts(key))
            if owner == self.instance or not await self._running(conn, owner):
                return
            if asyncio.get_running_loop().time() > deadline:
                log.warning("an older message of a conversation is still unanswered elsewhere; going on")
                return
            await conn.execute("SELECT pg_advisory_unlock($1)", lock)
            await asyncio.sleep(ORDER_POLL_S)

    @asynccontextmanager
    async def hold_thread(self, key: ThreadKey) -> AsyncIterator[None]:
        lock = advisory_key(CONVERSATION + "\x1f".join(key_parts(key)))
        async with self.lock_pool.acquire() as conn:
            await self._first_in_line(conn, lock, key)
            try:
                yield
            finally:
                await _unlock(conn, lock)

    @asynccontextmanager
    async def leadership(self, *jobs: str) -> AsyncIterator[Lead]:
        # All on one connection: a process holding several shards uses one of the pool's.
        locks = sorted({advisory_key(LEADER + job) for job in jobs})
        async with self.lock_pool.acquire() as conn:
            held: list[int] = []
            watch: asyncio.Task[None] | None = None
            try:
                for lock in locks:
                    if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", lock):
                        break
                    held.append(lock)
                lead = Lead(len(held) == len(locks))
                if not lead:
                    await _unlock_all(conn, held)
                    held = []
                else:
                    watch = asyncio.create_task(_watch(conn, lead, ", ".join(jobs)))
                yield lead
            finally:
                if watch is not None:  # the connection serves one statement at a time
                    watch.cancel()
                    await asyncio.gather(watch, return_exceptions=True)
                await _unlock_all(conn, held)
