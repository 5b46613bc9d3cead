"""The `store` fixture of the store contract suite: every backend, each on a real, empty database.

A backend is one entry in `BACKENDS`: how to open an empty store and how to read back what the
protocol only writes (feedback). Postgres joins with one more entry.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.storage.sqlite import SQLiteStore
from bot.storage.store import ConversationStore


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


BACKENDS: dict[str, Backend] = {
    "sqlite": Backend(open=_sqlite, feedback=_sqlite_feedback),
}


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest) -> Backend:
    return BACKENDS[request.param]


@pytest.fixture
async def store(backend: Backend, tmp_path: Path) -> AsyncIterator[ConversationStore]:
    async with backend.open(tmp_path) as opened:
        yield opened
