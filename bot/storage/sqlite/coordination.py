"""The SQLite store's side of running several processes: there is one per file, so it leads every job,
its own locks order each conversation, and what was left unanswered is every unanswered message."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

from bot.events import ThreadKey
from bot.storage.sqlite.messages import SQLiteMessages
from bot.storage.store import Lead, StoredMessage


class SQLiteCoordination(SQLiteMessages):
    """The coordination part of `SQLiteStore`."""

    shared = False

    async def abandoned(self, since: datetime, before: datetime) -> list[tuple[StoredMessage, ThreadKey]]:
        return await self.unanswered_between(since, before)

    @asynccontextmanager
    async def hold_thread(self, key: ThreadKey) -> AsyncIterator[None]:
        yield

    @asynccontextmanager
    async def leadership(self, *jobs: str) -> AsyncIterator[Lead]:
        yield Lead(True)  # never lost: no other process shares the file
