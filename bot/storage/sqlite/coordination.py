"""The SQLite store's side of running several processes: there is one per file, so it leads every job,
its own locks order each conversation, and what was left unanswered is every unanswered message."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

from bot.events import ThreadKey
from bot.storage.sqlite.messages import SQLiteMessages
from bot.storage.sqlite.rows import stamp
from bot.storage.store import Lead, StoredMessage


class SQLiteCoordination(SQLiteMessages):
    """The coordination part of `SQLiteStore`."""

    shared = False

    async def abandoned(self, since: datetime, before: datetime) -> list[tuple[StoredMessage, ThreadKey]]:
        return await self.unanswered_between(since, before)

    async def read_back_due(self, platform: str, shard: int, began: datetime) -> datetime:
        async with self._write:
            rows = await self.db.execute_fetchall(
                "INSERT INTO read_backs (platform, shard, due_since) VALUES (?, ?, ?)"
                " ON CONFLICT (platform, shard) DO UPDATE SET due_since = MIN(due_since, excluded.due_since)"
                " RETURNING due_since",
                (platform, shard, stamp(began)),
            )
        return datetime.fromisoformat(str(next(iter(rows))[0]))

    async def read_back_done(self, platform: str, shard: int, since: datetime) -> None:
        async with self._write:
            await self.db.execute(
                "DELETE FROM read_backs WHERE platform = ? AND shard = ? AND due_since <= ?",
                (platform, shard, stamp(since)),
            )

    @asynccontextmanager
    async def hold_thread(self, key: ThreadKey) -> AsyncIterator[None]:
        yield

    @asynccontextmanager
    async def leadership(self, *jobs: str) -> AsyncIterator[Lead]:
        yield Lead(True)  # never lost: no other process shares the file
