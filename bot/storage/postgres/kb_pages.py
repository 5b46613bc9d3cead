"""The shared catalogue of help pages on Postgres (`bot.kb.shared.SharedPages`): the sources `kb add`
published, their pages as read, and the one revision number every change raises.

A publish or withdrawal locks the revision row for its transaction, so two at once take turns and
each change gets its own revision; it writes only the pages whose hash differs. Readers take no lock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from bot.kb.shared import ListedSource, Listing, Published, SharedError, SharedPage, SharedSource
from bot.storage.migrations import one_line
from bot.storage.postgres.connection import PostgresConnection
from bot.storage.postgres.rows import now, storable

_FAILURES = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)


class PostgresSharedPages:
    """`SharedPages` on the store's pool (open the store first)."""

    def __init__(self, connection: PostgresConnection) -> None:
        self._connection = connection

    @asynccontextmanager
    async def _conn(self) -> AsyncIterator[PoolConnectionProxy]:
        try:
            async with self._connection.pool.acquire() as conn:
                yield conn
        except _FAILURES as exc:
            raise SharedError(f"shared pages on {self._connection.describe()}: {one_line(exc)}") from exc

    async def revision(self) -> int:
        async with self._conn() as conn:
            return int(await conn.fetchval("SELECT revision FROM kb_revision WHERE id = 1"))

    async def listing(self) -> Listing:
        async with self._conn() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            revision = int(await conn.fetchval("SELECT revision FROM kb_revision WHERE id = 1"))
            sources = await conn.fetch(
                "SELECT name, root, url_template, include_pattern FROM kb_shared_sources ORDER BY name"
            )
            pages: dict[str, dict[str, str]] = {str(s["name"]): {} for s in sources}
            for row in await conn.fetch(
                "SELECT source, path, content_hash FROM kb_shared_pages ORDER BY source, path"
            ):
                pages[str(row["source"])][str(row["path"])] = str(row["content_hash"])
        return Listing(
            revision,
            tuple(
                ListedSource(
                    SharedSource(
                        str(s["name"]), str(s["root"]), s["url_template"], str(s["include_pattern"])
                    ),
                    pages[str(s["name"])],
                )
                for s in sources
            ),
        )

    async def pages(self, source: str, paths: Sequence[str]) -> list[SharedPage]:
        async with self._conn() as conn:
            rows = await conn.fetch(
                "SELECT path, url, content_hash, text FROM kb_shared_pages"
                " WHERE source = $1 AND path = ANY($2::text[]) ORDER BY path",
                source,
                list(paths),
            )
        return [SharedPage(str(r["path"]), r["url"], str(r["content_hash"]), str(r["text"])) for r in rows]

    async def publish(self, source: SharedSource, pages: Sequence[SharedPage]) -> Published:
        async with self._conn() as conn, conn.transaction():
            before = int(await conn.fetchval("SELECT revision FROM kb_revision WHERE id = 1 FOR UPDATE"))
            after = before + 1
            known = await conn.fetchrow(
                "SELECT root, url_template, include_pattern FROM kb_shared_sources WHERE name = $1",
                source.name,
            )
            stored = {
                str(r["path"]): str(r["content_hash"])
                for r in await conn.fetch(
                    "SELECT path, content_hash FROM kb_shared_pages WHERE source = $1", source.name
                )
            }
            fresh = [p for p in pages if stored.get(p.path) != p.content_hash]
            wanted = {p.path for p in pages}
            gone = [path for path in stored if path not in wanted]
            options = (source.root, source.url_template, source.include_pattern)
            if known is not None and tuple(known) == options and not fresh and not gone:
                return Published(before, before)
            await conn.execute(
                "INSERT INTO kb_shared_sources"
                " (name, root, url_template, include_pattern, revision, updated_at)"
                " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (name) DO UPDATE SET root = excluded.root,"
                " url_template = excluded.url_template, include_pattern = excluded.include_pattern,"
                " revision = excluded.revision, updated_at = excluded.updated_at",
                source.name, *options, after, now(),
            )  # fmt: skip
            await conn.executemany(
                "INSERT INTO kb_shared_pages (source, path, url, content_hash, text, revision)"
                " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (source, path)"
                " DO UPDATE SET url = excluded.url, content_hash = excluded.content_hash,"
                " text = excluded.text, revision = excluded.revision",
                [(source.name, p.path, p.url, p.content_hash, storable(p.text), after) for p in fresh],
            )
            if gone:
                await conn.execute(
                    "DELETE FROM kb_shared_pages WHERE source = $1 AND path = ANY($2::text[])",
                    source.name,
                    gone,
                )
            await conn.execute("UPDATE kb_revision SET revision = $1 WHERE id = 1", after)
        return Published(before, after)

    async def withdraw(self, name: str) -> Published:
        async with self._conn() as conn, conn.transaction():
            before = int(await conn.fetchval("SELECT revision FROM kb_revision WHERE id = 1 FOR UPDATE"))
            deleted = await conn.fetchval("DELETE FROM kb_shared_sources WHERE name = $1 RETURNING 1", name)
            if deleted is None:
                return Published(before, before)
            await conn.execute("UPDATE kb_revision SET revision = $1 WHERE id = 1", before + 1)
        return Published(before, before + 1)
