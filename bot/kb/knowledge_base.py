"""`KnowledgeBase`: the one entry point to the help pages indexed in SQLite FTS5 (and optionally
embedded), a thin facade over the modules that do the work.

Indexing a source is in `indexing` (and `vectors` for embeddings), searching in `search` (`bm25`,
`semantic`), excerpts of a hit in `passages`, listing and removing sources in `sources`; all
writes go through `writes.Writer`. With a shared catalogue (`shared`, instances on one Postgres
database), `add` and `remove` also publish what they did, and `sync` applies what others published
(`mirror`). Uses the bot's one long-lived aiosqlite connection; parsing runs
in a worker thread so the event loop never blocks.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from pathlib import Path

import aiosqlite

from .embeddings import Embedder
from .indexing import Indexer
from .loader import Progress, SourceError
from .mirror import Mirror, SyncReport, applied_revision, mark_shared, record_revision
from .passages import excerpt
from .schema import ensure_schema
from .search import Searcher
from .semantic import SemanticRanker, clarity
from .settings import KBSettings
from .shared import Published, SharedPages
from .sources import SAMPLE, drop_stale_sample, list_sources, remove_source, sample_to_index
from .types import Hit, IndexReport, SearchResult, SourceInfo
from .vectors import embed_missing
from .writes import Writer

__all__ = ["KnowledgeBase", "SourceError", "clarity"]

log = logging.getLogger(__name__)


class KnowledgeBase:
    """Indexed help pages (grouped in named sources) and search over them."""

    def __init__(
        self,
        db: aiosqlite.Connection,
        settings: KBSettings,
        *,
        embedder: Embedder | None = None,
        write_lock: asyncio.Lock | None = None,
        shared: SharedPages | None = None,
    ) -> None:
        """`embedder` (see `bot.kb.embeddings.build_embedder`) turns on hybrid BM25 + semantic search;
        without one the knowledge base is BM25 alone. `write_lock` is the lock of every other writer
        on the same connection (the conversation store's), so transactions never interleave.
        `shared`: the catalogue of pages instances on one database share (None: this index alone)."""
        self._db = db
        self._settings = settings
        self._embedder = embedder
        self._write_lock = write_lock or asyncio.Lock()
        self._writer = Writer(db, self._write_lock)
        self._indexer = Indexer(self._writer, settings, embedder)
        semantic = SemanticRanker(db, embedder, settings.embeddings) if embedder is not None else None
        self._searcher = Searcher(db, settings, semantic)
        self._shared = shared
        self._mirror = Mirror(self._writer, shared, settings.chunk_chars) if shared is not None else None

    @property
    def settings(self) -> KBSettings:
        return self._settings

    @property
    def shared(self) -> bool:
        """Whether pages are shared with other instances (and `sync` does anything)."""
        return self._shared is not None

    @property
    def semantic(self) -> bool:
        """Whether searches fuse embeddings with BM25."""
        return self._embedder is not None

    async def setup(self) -> None:
        """Create or migrate the KB tables; safe to call on every start."""
        await ensure_schema(self._db, self._write_lock)

    async def add(
        self,
        path: Path,
        *,
        name: str | None = None,
        url_template: str | None = None,
        include_pattern: str | None = None,
        progress: Progress | None = None,
    ) -> IndexReport:
        """Index (or re-index) a folder or single file as source `name` (default: its folder name).

        Only pages whose expanded content changed are rewritten; pages gone from disk are dropped.
        `progress(done, total)` is called from the worker thread that parses the files. With an
        embedder, chunk texts without a vector are embedded afterwards; a failure is a warning.
        With a shared catalogue the source is then published (not the sample: each instance has its
        own); a failure to publish raises `SharedError` with the pages indexed here.
        """
        indexed = await self._indexer.add(
            path, name=name, url_template=url_template, include_pattern=include_pattern, progress=progress
        )
        report = indexed.report
        if self._shared is not None and indexed.source is not None and report.source_name != SAMPLE:
            published = await self._shared.publish(indexed.source, indexed.shared_pages())
            await mark_shared(self._writer, report.source_name)
            await self._caught_up(published)
        # Your own pages replace the fictional sample: it must never answer beside them.
        own = report.source_name != SAMPLE and report.added + report.changed + report.unchanged > 0
        if own and await remove_source(self._writer, SAMPLE):
            report = dataclasses.replace(report, dropped_sample=True)
        return report

    async def remove(self, source_name: str) -> bool:
        """Drop a source and everything indexed from it; False if there was no such source, here
        or in the shared catalogue (from which it is withdrawn too)."""
        removed = await remove_source(self._writer, source_name)
        if self._shared is None or source_name == SAMPLE:
            return removed
        published = await self._shared.withdraw(source_name)
        await self._caught_up(published)
        return removed or published.changed

    async def _caught_up(self, published: Published) -> None:
        """After publishing what this index holds: if it had applied the revision just before,
        it holds the new one too, and its next sync has nothing to do."""
        if published.changed and await applied_revision(self._db) == published.before:
            async with self._writer.transaction() as db:
                await record_revision(db, published.after)

    async def sync(self) -> SyncReport | None:
        """Re-index the pages other instances added, changed or removed since the last sync (then
        embed what is new, with an embedder); None when the catalogue did not change, or there is
        none. Raises `SharedError` when the catalogue can't be read."""
        if self._mirror is None:
            return None
        report = await self._mirror.sync()
        if report is not None and report.added + report.changed and self._embedder is not None:
            _, problem = await embed_missing(self._writer, self._embedder)
            if problem:
                log.warning("kb sync: %s", problem)
        return report

    async def sources(self) -> list[SourceInfo]:
        """Indexed sources with page and chunk counts, by name."""
        return await list_sources(self._db)

    async def index_sample_if_empty(self, base_dir: Path) -> IndexReport | None:
        """Index `settings.sample_dir` (relative to `base_dir`) when no source exists yet; drop the
        sample when other sources exist (a database from a version that kept both)."""
        if await drop_stale_sample(self._writer):
            return None
        folder = await sample_to_index(self._db, self._settings, base_dir)
        if folder is None:
            return None
        return await self.add(folder, name=SAMPLE, url_template=self._settings.sample_url_template)

    async def search(self, query: str, k: int | None = None) -> SearchResult:
        """Best pages for `query` (one hit per page), and whether to abstain.

        BM25 alone by default; with an embedder, BM25 and cosine rankings are fused (reciprocal rank
        fusion). If the embeddings endpoint fails, the BM25 result is returned and a warning logged.
        """
        return await self._searcher.search(query, k)

    async def excerpt(self, hit: Hit, query: str, max_chars: int, platform: str) -> str:
        """The few sentences or steps of the hit's section that answer `query`, near `max_chars`,
        rendered for `platform` (links as Markdown, or as `text (url)` on the console)."""
        return await excerpt(self._db, hit, query, max_chars, platform)
