"""`KnowledgeBase`: the one entry point to the help pages indexed in SQLite FTS5 (and optionally
embedded), a thin facade over the modules that do the work.

Indexing a source is in `indexing` (and `vectors` for embeddings), searching in `search` (`bm25`,
`semantic`), excerpts of a hit in `passages`, listing and removing sources in `sources`; all
writes go through `writes.Writer`. Uses the bot's one long-lived aiosqlite connection; parsing runs
in a worker thread so the event loop never blocks.
"""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import aiosqlite

from .embeddings import Embedder
from .indexing import Indexer
from .loader import Progress, SourceError
from .passages import excerpt
from .schema import ensure_schema
from .search import Searcher
from .semantic import SemanticRanker, clarity
from .settings import KBSettings
from .sources import SAMPLE, drop_stale_sample, list_sources, remove_source, sample_to_index
from .types import Hit, IndexReport, SearchResult, SourceInfo
from .writes import Writer

__all__ = ["KnowledgeBase", "SourceError", "clarity"]


class KnowledgeBase:
    """Indexed help pages (grouped in named sources) and search over them."""

    def __init__(
        self,
        db: aiosqlite.Connection,
        settings: KBSettings,
        *,
        embedder: Embedder | None = None,
        write_lock: asyncio.Lock | None = None,
    ) -> None:
        """`embedder` (see `bot.kb.embeddings.build_embedder`) turns on hybrid BM25 + semantic search;
        without one the knowledge base is BM25 alone. `write_lock` is the lock of every other writer
        on the same connection (the conversation store's), so transactions never interleave."""
        self._db = db
        self._settings = settings
        self._embedder = embedder
        self._write_lock = write_lock or asyncio.Lock()
        self._writer = Writer(db, self._write_lock)
        self._indexer = Indexer(self._writer, settings, embedder)
        semantic = SemanticRanker(db, embedder, settings.embeddings) if embedder is not None else None
        self._searcher = Searcher(db, settings, semantic)

    @property
    def settings(self) -> KBSettings:
        return self._settings

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
        """
        report = await self._indexer.add(
            path, name=name, url_template=url_template, include_pattern=include_pattern, progress=progress
        )
        # Your own pages replace the fictional sample: it must never answer beside them.
        own = report.source_name != SAMPLE and report.added + report.changed + report.unchanged > 0
        if own and await remove_source(self._writer, SAMPLE):
            report = dataclasses.replace(report, dropped_sample=True)
        return report

    async def remove(self, source_name: str) -> bool:
        """Drop a source and everything indexed from it; False if there was no such source."""
        return await remove_source(self._writer, source_name)

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
