"""The `store` fixture of the store contract suite: every backend, each on a real, empty database.

A backend is one entry in `BACKENDS`: how to open an empty store and how to read back what the
protocol only writes (feedback). Postgres runs on a fresh database of the server in tests/postgres.py
(skipped with one line where there is none, required with CI=true).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.storage.postgres import PostgresStore
from bot.storage.sqlite import SQLiteStore
from bot.storage.store import ConversationStore
from tests.postgres import fresh_database


@dataclass(frozen=True, slots=True)
class Backend:
    open: Callable[[Path], AbstractAsyncContextManager[ConversationStore]]
    feedback: Callable[[ConversationStore, int], Awaitable[dict[str, int]]]  # user id -> value


@asynccontextmanager
async def _sqlite(tmp_path: Path) -> AsyncIterator[ConversationStore]:
    store = SQLiteStore(tmp_path / "contract.db")  # a real file, opened as the app opens it
    await store.open()
    try:
        yield store
    finally:
        await store.close()


async def _sqlite_feedback(store: ConversationStore, message_id: int) -> dict[str, int]:
    assert isinstance(store, SQLiteStore)
    rows = await store.db.execute_fetchall(
        "SELECT user_id, value FROM feedback WHERE message_id = ?", (message_id,)
    )
    return {str(user): int(value) for user, value in rows}


@asynccontextmanager
async def _postgres(tmp_path: Path) -> AsyncIterator[ConversationStore]:
    async with fresh_database() as url:
        store = PostgresStore(url)
        await store.open()
        try:
            yield store
        finally:
            await store.close()


async def _postgres_feedback(store: ConversationStore, message_id: int) -> dict[str, int]:
    assert isinstance(store, PostgresStore)
    rows = await store.pool.fetch("SELECT user_id, value FROM feedback WHERE message_id = $1", message_id)
    return {str(r["user_id"]): int(r["value"]) for r in rows}


BACKENDS: dict[str, Backend] = {
    "sqlite": Backend(open=_sqlite, feedback=_sqlite_feedback),
    "postgres": Backend(open=_postgres, feedback=_postgres_feedback),
}


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest) -> Backend:
    return BACKENDS[request.param]


@pytest.fixture
async def store(backend: Backend, tmp_path: Path) -> AsyncIterator[ConversationStore]:
    async with backend.open(tmp_path) as opened:
        yield opened
