"""Indexing one source: load its pages (in a worker thread), diff them against what is stored,
write the new and changed ones with their chunks and FTS rows, then complete the chunk vectors.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiosqlite

from .embeddings import Embedder
from .loader import LoadedPage, LoadedSource, Progress, SourceError, default_source_name, load_source
from .ranking import title_words
from .render import plain
from .settings import KBSettings
from .shared import SharedPage, SharedSource
from .types import IndexReport
from .vectors import embed_missing, embed_text, text_digest
from .writes import Writer, bump_version, delete_chunks, delete_documents

# stored path -> (document id, content hash)
StoredPages = dict[str, tuple[int, str]]


@dataclass(frozen=True, slots=True)
class PageDiff:
    """What re-indexing a source changes, pages in the order they were loaded."""

    fresh: list[tuple[int | None, LoadedPage]]  # pages to (re)write: stored id, None for a new page
    unchanged: int
    gone: list[int]  # stored pages no longer on disk

    @property
    def added(self) -> int:
        return sum(1 for doc_id, _ in self.fresh if doc_id is None)

    @property
    def changed(self) -> int:
        return len(self.fresh) - self.added


def diff_pages(stored: StoredPages, pages: Sequence[LoadedPage]) -> PageDiff:
    """Compare loaded pages with the stored ones by path and content hash."""
    remaining = dict(stored)
    fresh: list[tuple[int | None, LoadedPage]] = []
    unchanged = 0
    for page in pages:
        known = remaining.pop(page.path, None)
        if known is None:
            fresh.append((None, page))
        elif known[1] != page.content_hash:
            fresh.append((known[0], page))
        else:
            unchanged += 1
    return PageDiff(fresh, unchanged, [doc_id for doc_id, _ in remaining.values()])


@dataclass(frozen=True, slots=True)
class Indexed:
    """What one `Indexer.add` did, and what it indexed: the source (None when nothing was added)
    and its pages, for sharing with other instances."""

    report: IndexReport
    source: SharedSource | None = None
    pages: tuple[LoadedPage, ...] = ()

    def shared_pages(self) -> list[SharedPage]:
        return [SharedPage(p.path, p.url, p.content_hash, p.text) for p in self.pages]


class Indexer:
    """Adds (or re-adds) sources: only pages whose expanded content changed are rewritten."""

    def __init__(self, writer: Writer, settings: KBSettings, embedder: Embedder | None) -> None:
        self._writer = writer
        self._settings = settings
        self._embedder = embedder

    async def add(
        self,
        path: Path,
        *,
        name: str | None,
        url_template: str | None,
        include_pattern: str | None,
        progress: Progress | None,
    ) -> Indexed:
        """Index `path` as source `name` (default: its folder name); see `KnowledgeBase.add`."""
        target = Path(path)
        pattern = include_pattern or self._settings.include_pattern
        url_template = url_template or self._settings.url_template
        known = await _stored_hashes(self._writer.db, name or default_source_name(target))
        loaded = await self._load(target, url_template, pattern, progress, known)
        source_name = name or loaded.default_name
        if not source_name:
            raise SourceError(f"cannot derive a source name from {target}; pass a name")
        if not loaded.pages and not await _source_exists(self._writer.db, source_name):
            return Indexed(IndexReport(source_name, 0, 0, 0, 0, 0, warnings=loaded.warnings))  # nothing
        source = SharedSource(source_name, str(loaded.root), url_template, pattern)
        async with self._writer.transaction() as db:
            report = await write_source(db, source, loaded.pages)
        return Indexed(await self.complete_vectors(report, loaded.warnings), source, loaded.pages)

    async def _load(
        self,
        target: Path,
        url_template: str | None,
        pattern: str,
        progress: Progress | None,
        known: dict[str, str],
    ) -> LoadedSource:
        s = self._settings
        return await asyncio.to_thread(
            load_source,
            target,
            url_template=url_template,
            include_pattern=pattern,
            snippet_dirs=s.snippet_dirs,
            exclude=s.exclude,
            chunk_chars=s.chunk_chars,
            progress=progress,
            known=known,
        )

    async def complete_vectors(self, report: IndexReport, warnings: tuple[str, ...]) -> IndexReport:
        """Embed what has no vector yet (with an embedder); a failure becomes one more warning."""
        embedded = 0
        if self._embedder is not None:
            embedded, problem = await embed_missing(self._writer, self._embedder)
            if problem:
                warnings = (*warnings, problem)
        return dataclasses.replace(report, warnings=warnings, embedded=embedded)


async def _stored_hashes(db: aiosqlite.Connection, source_name: str) -> dict[str, str]:
    """Stored path -> content hash of a source's pages (empty for a new source)."""
    async with db.execute(
        "SELECT d.path, d.content_hash FROM kb_documents d JOIN kb_sources s ON s.id = d.source_id"
        " WHERE s.name = ?",
        (source_name,),
    ) as cur:
        return {str(path): str(digest) async for path, digest in cur}


async def _source_exists(db: aiosqlite.Connection, name: str) -> bool:
    async with db.execute("SELECT 1 FROM kb_sources WHERE name = ?", (name,)) as cur:
        return await cur.fetchone() is not None


async def write_source(
    db: aiosqlite.Connection, source: SharedSource, pages: Sequence[LoadedPage], *, shared: bool = False
) -> IndexReport:
    """Inside a write transaction: record the source's options and bring its stored pages in line
    with `pages` (only new and changed ones are written). `shared`: the source came from the shared
    catalogue (`bot.kb.mirror`), so it goes when the catalogue drops it."""
    source_id = await _upsert_source(db, source, shared)
    return await _store_pages(db, source.name, source_id, pages)


async def _upsert_source(db: aiosqlite.Connection, source: SharedSource, shared: bool) -> int:
    now = datetime.now(UTC).isoformat(timespec="seconds")
    cursor = await db.execute(
        "INSERT INTO kb_sources (name, root, url_template, include_pattern, indexed_at, shared) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET root = excluded.root, "
        "url_template = excluded.url_template, include_pattern = excluded.include_pattern, "
        "indexed_at = excluded.indexed_at, shared = max(shared, excluded.shared) RETURNING id",
        (source.name, source.root, source.url_template, source.include_pattern, now, int(shared)),
    )
    row = await cursor.fetchone()
    await cursor.close()
    assert row is not None
    return int(row[0])


async def _store_pages(
    db: aiosqlite.Connection, source_name: str, source_id: int, pages: Sequence[LoadedPage]
) -> IndexReport:
    """Bring the source's stored pages in line with `pages`; report what changed."""
    diff = diff_pages(await _stored_pages(db, source_id), pages)
    written = await _write_documents(db, source_id, diff.fresh)
    await delete_documents(db, diff.gone)
    await _insert_chunks(db, written)
    await bump_version(db)
    chunks = await _count_chunks(db, source_id)
    return IndexReport(source_name, diff.added, diff.changed, diff.unchanged, len(diff.gone), chunks)


async def _stored_pages(db: aiosqlite.Connection, source_id: int) -> StoredPages:
    stored: StoredPages = {}
    async with db.execute(
        "SELECT path, id, content_hash FROM kb_documents WHERE source_id = ?", (source_id,)
    ) as cur:
        async for path, doc_id, digest in cur:
            stored[str(path)] = (int(doc_id), str(digest))
    return stored


async def _write_documents(
    db: aiosqlite.Connection, source_id: int, fresh: Sequence[tuple[int | None, LoadedPage]]
) -> list[tuple[int, LoadedPage]]:
    """Insert new pages, update changed ones (dropping their old chunks); their ids, in order."""
    written: list[tuple[int, LoadedPage]] = []
    for doc_id, page in fresh:
        if doc_id is None:
            cur = await db.execute(
                "INSERT INTO kb_documents (source_id, path, title, url, content_hash) VALUES (?, ?, ?, ?, ?)",
                (source_id, page.path, page.title, page.url, page.content_hash),
            )
            assert cur.lastrowid is not None
            doc_id = cur.lastrowid
        else:
            await delete_chunks(db, [doc_id])
            await db.execute(
                "UPDATE kb_documents SET title = ?, url = ?, content_hash = ? WHERE id = ?",
                (page.title, page.url, page.content_hash, doc_id),
            )
        written.append((doc_id, page))
    return written


async def _insert_chunks(db: aiosqlite.Connection, pages: Sequence[tuple[int, LoadedPage]]) -> None:
    """The pages' chunks, numbered after the highest chunk id, with their FTS rows."""
    async with db.execute("SELECT coalesce(max(id), 0) FROM kb_chunks") as cur:
        row = await cur.fetchone()
    next_id = int(row[0]) + 1 if row else 1
    chunk_rows: list[tuple[int, int, int, str, str, str]] = []
    fts_rows: list[tuple[int, str, str, str]] = []
    for doc_id, page in pages:
        named = title_words(page.title, page.path)
        for ord_, chunk in enumerate(page.chunks):
            words = plain(chunk.text)  # search and embeddings read the words, not the link targets
            digest = text_digest(embed_text(page.title, chunk.section, words))
            chunk_rows.append((next_id, doc_id, ord_, chunk.section, chunk.text, digest))
            fts_rows.append((next_id, named, chunk.trail, words))
            next_id += 1
    await db.executemany(
        "INSERT INTO kb_chunks (id, document_id, ord, section, text, digest) VALUES (?, ?, ?, ?, ?, ?)",
        chunk_rows,
    )
    await db.executemany("INSERT INTO kb_fts (rowid, title, section, body) VALUES (?, ?, ?, ?)", fts_rows)


async def _count_chunks(db: aiosqlite.Connection, source_id: int) -> int:
    async with db.execute(
        "SELECT count(*) FROM kb_chunks c JOIN kb_documents d ON d.id = c.document_id WHERE d.source_id = ?",
        (source_id,),
    ) as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0
