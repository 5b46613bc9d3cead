"""Write steps shared by indexing, embedding and removing a source: one explicit transaction under
the shared write lock, the content version, and deleting pages with their chunks and stale vectors.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import aiosqlite

from bot.storage.sqlite.transaction import write_transaction


class Writer:
    """Serialises the KB's write transactions with every other writer on the same connection."""

    def __init__(self, db: aiosqlite.Connection, lock: asyncio.Lock) -> None:
        self._db = db
        self._lock = lock

    @property
    def db(self) -> aiosqlite.Connection:
        """The connection itself, for reads outside a transaction."""
        return self._db

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """One explicit write transaction (the store's own helper: the app's connection runs in
        autocommit mode, where statements would otherwise commit one by one)."""
        async with write_transaction(self._db, self._lock):
            yield self._db


async def bump_version(db: aiosqlite.Connection) -> None:
    """Mark the indexed content as changed (invalidates cached vectors, in any process)."""
    await db.execute(
        "INSERT INTO kb_meta (key, value) VALUES ('content_version', '1') ON CONFLICT (key) "
        "DO UPDATE SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)"
    )


async def content_version(db: aiosqlite.Connection) -> str:
    """The current content version ("0" before anything was indexed)."""
    async with db.execute("SELECT value FROM kb_meta WHERE key = 'content_version'") as cur:
        row = await cur.fetchone()
    return str(row[0]) if row else "0"


async def delete_chunks(db: aiosqlite.Connection, doc_ids: Sequence[int]) -> None:
    """Drop the chunks (and their FTS rows) of these pages, keeping the pages."""
    if not doc_ids:
        return
    ids = json.dumps(list(doc_ids))
    await db.execute(
        "DELETE FROM kb_fts WHERE rowid IN (SELECT id FROM kb_chunks WHERE document_id IN "
        "(SELECT value FROM json_each(?)))",
        (ids,),
    )
    await db.execute("DELETE FROM kb_chunks WHERE document_id IN (SELECT value FROM json_each(?))", (ids,))


async def delete_documents(db: aiosqlite.Connection, doc_ids: Sequence[int]) -> None:
    """Drop these pages with their chunks."""
    if not doc_ids:
        return
    await delete_chunks(db, doc_ids)
    await db.execute(
        "DELETE FROM kb_documents WHERE id IN (SELECT value FROM json_each(?))",
        (json.dumps(list(doc_ids)),),
    )


async def drop_orphan_vectors(db: aiosqlite.Connection) -> None:
    """Drop vectors whose text no chunk has any more."""
    await db.execute("DELETE FROM kb_vectors WHERE digest NOT IN (SELECT digest FROM kb_chunks)")
