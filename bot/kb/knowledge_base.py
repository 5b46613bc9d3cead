"""`KnowledgeBase`: indexes help pages into SQLite FTS5 and answers BM25 searches per page.

Uses the bot's one long-lived aiosqlite connection; parsing runs in a worker thread so the event
loop never blocks.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import statistics
from array import array
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeAlias

import aiosqlite

from .embeddings import Embedder, EmbeddingError, dot, from_blob, to_blob
from .loader import LoadedPage, Progress, SourceError, load_source
from .query import match_any, query_terms, quote_term
from .ranking import (
    ChunkScore,
    PageScore,
    aggregate,
    coverage,
    idf,
    reciprocal_rank_fusion,
    title_boost,
    title_term_count,
    title_words,
)
from .schema import ensure_schema
from .settings import KBSettings
from .types import Hit, IndexReport, SearchResult, SourceInfo

__all__ = ["KnowledgeBase", "SourceError"]

log = logging.getLogger(__name__)

EMBED_GROUP = 256  # chunks embedded (and committed) per round trip group during indexing
SEMANTIC_DEPTH = 50  # pages taken from each ranking into the fusion


def embed_text(title: str, section: str, text: str) -> str:
    """What a chunk's vector represents: its page title and heading give the passage its topic."""
    head = title if section in ("", title) else f"{title} — {section}"
    return f"{head}\n\n{text}"


def text_digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# chunk id, document id, unit vector
VectorRow: TypeAlias = "tuple[int, int, array[float]]"


# Below this many chunks a z-score says little (with n chunks it can't exceed √(n−1)): no verdict.
CLARITY_MIN_CHUNKS = 50


def clarity(scores: Sequence[float]) -> float:
    """(best − mean) / standard deviation: a question the corpus really answers has a standout chunk.

    Infinite (never abstains) for corpora too small to judge.
    """
    if len(scores) < CLARITY_MIN_CHUNKS:
        return float("inf")
    spread = statistics.pstdev(scores)
    return (max(scores) - statistics.fmean(scores)) / spread if spread > 0 else 0.0


def _cosine_chunks(query: array[float], rows: Sequence[VectorRow]) -> list[ChunkScore]:
    return [ChunkScore(chunk_id, doc_id, dot(query, vector)) for chunk_id, doc_id, vector in rows]


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
        self._vector_cache: tuple[str, str, list[VectorRow]] | None = None  # version, model, rows

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[None]:
        """One explicit write transaction: the app's connection runs in autocommit mode, where
        statements would otherwise commit one by one and a rollback would undo nothing."""
        async with self._write_lock:
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                await self._db.rollback()
                raise
            await self._db.commit()

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

    # ------------------------------------------------------------ indexing

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
        `progress(done, total)` is called from the worker thread that parses the files.
        """
        target = Path(path)
        pattern = include_pattern or self._settings.include_pattern
        loaded = await asyncio.to_thread(
            load_source,
            target,
            url_template=url_template,
            include_pattern=pattern,
            snippet_dirs=self._settings.snippet_dirs,
            exclude=self._settings.exclude,
            chunk_chars=self._settings.chunk_chars,
            progress=progress,
        )
        source_name = name or loaded.default_name
        if not source_name:
            raise SourceError(f"cannot derive a source name from {target}; pass a name")
        async with self._transaction():
            report = await self._store(source_name, loaded.root, url_template, pattern, loaded.pages)
        warnings = loaded.warnings
        embedded = 0
        if self._embedder is not None:
            embedded, problem = await self._embed_missing(self._embedder)
            if problem:
                warnings = (*warnings, problem)
        return IndexReport(
            source_name=report.source_name,
            added=report.added,
            changed=report.changed,
            unchanged=report.unchanged,
            removed=report.removed,
            chunks=report.chunks,
            warnings=warnings,
            embedded=embedded,
        )

    async def _embed_missing(self, embedder: Embedder) -> tuple[int, str | None]:
        """Embed every chunk whose text has no vector for the embedder's model yet.

        Called after each `add`, so only new or changed chunk texts cost a request (and a KB indexed
        before embeddings were enabled is completed on its next `add`). A failure leaves BM25 intact
        and is returned as a warning; the missing vectors are retried on the next `add`.
        """
        model = embedder.model
        async with self._db.execute(
            "SELECT c.id, c.digest, d.title, c.section, c.text FROM kb_chunks c "
            "JOIN kb_documents d ON d.id = c.document_id WHERE c.digest = '' OR NOT EXISTS "
            "(SELECT 1 FROM kb_vectors v WHERE v.model = ? AND v.digest = c.digest) ORDER BY c.id",
            (model,),
        ) as cur:
            rows = await cur.fetchall()
        todo: dict[str, str] = {}
        legacy: list[tuple[str, int]] = []
        for chunk_id, digest, title, section, text in rows:
            content = embed_text(str(title), str(section), str(text))
            if not digest:
                digest = text_digest(content)
                legacy.append((digest, int(chunk_id)))
            todo.setdefault(str(digest), content)
        async with self._transaction():
            if legacy:
                await self._db.executemany("UPDATE kb_chunks SET digest = ? WHERE id = ?", legacy)
            await self._db.execute(
                "DELETE FROM kb_vectors WHERE digest NOT IN (SELECT digest FROM kb_chunks)"
            )
            await self._bump_version()
        if legacy:  # a legacy chunk may share its text with one that already has a vector
            async with self._db.execute(
                "SELECT digest FROM kb_vectors WHERE model = ? AND digest IN "
                "(SELECT value FROM json_each(?))",
                (model, json.dumps(list(todo))),
            ) as cur:
                for (digest,) in await cur.fetchall():
                    todo.pop(str(digest), None)
        items = list(todo.items())
        done = 0
        for start in range(0, len(items), EMBED_GROUP):
            group = items[start : start + EMBED_GROUP]
            try:
                vectors = await embedder.embed([content for _, content in group])
            except EmbeddingError as exc:
                missing = len(items) - done
                log.warning("kb: embedding %d chunks failed: %s", missing, exc)
                return done, f"embeddings: {exc}; {missing} chunks have no vector yet (retried on next add)"
            async with self._transaction():
                await self._db.executemany(
                    "INSERT OR REPLACE INTO kb_vectors (model, digest, vector) VALUES (?, ?, ?)",
                    [(model, digest, to_blob(v)) for (digest, _), v in zip(group, vectors, strict=True)],
                )
                await self._bump_version()
            done += len(group)
        return done, None

    async def _bump_version(self) -> None:
        """Mark the indexed content as changed (invalidates cached vectors, in any process)."""
        await self._db.execute(
            "INSERT INTO kb_meta (key, value) VALUES ('content_version', '1') ON CONFLICT (key) "
            "DO UPDATE SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)"
        )

    async def _store(
        self,
        source_name: str,
        root: Path,
        url_template: str | None,
        pattern: str,
        pages: Sequence[LoadedPage],
    ) -> IndexReport:
        now = datetime.now(UTC).isoformat(timespec="seconds")
        cursor = await self._db.execute(
            "INSERT INTO kb_sources (name, root, url_template, include_pattern, indexed_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET root = excluded.root, "
            "url_template = excluded.url_template, include_pattern = excluded.include_pattern, "
            "indexed_at = excluded.indexed_at RETURNING id",
            (source_name, str(root), url_template, pattern, now),
        )
        row = await cursor.fetchone()
        await cursor.close()
        assert row is not None
        source_id = int(row[0])
        existing: dict[str, tuple[int, str]] = {}
        async with self._db.execute(
            "SELECT path, id, content_hash FROM kb_documents WHERE source_id = ?", (source_id,)
        ) as cur:
            async for path, doc_id, digest in cur:
                existing[str(path)] = (int(doc_id), str(digest))
        added = changed = unchanged = 0
        fresh: list[tuple[int, LoadedPage]] = []
        for page in pages:
            known = existing.pop(page.path, None)
            if known is None:
                cur = await self._db.execute(
                    "INSERT INTO kb_documents (source_id, path, title, url, content_hash) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (source_id, page.path, page.title, page.url, page.content_hash),
                )
                assert cur.lastrowid is not None
                fresh.append((cur.lastrowid, page))
                added += 1
            elif known[1] != page.content_hash:
                await self._delete_chunks([known[0]])
                await self._db.execute(
                    "UPDATE kb_documents SET title = ?, url = ?, content_hash = ? WHERE id = ?",
                    (page.title, page.url, page.content_hash, known[0]),
                )
                fresh.append((known[0], page))
                changed += 1
            else:
                unchanged += 1
        gone = [doc_id for doc_id, _ in existing.values()]
        await self._delete_documents(gone)
        await self._insert_chunks(fresh)
        await self._bump_version()
        async with self._db.execute(
            "SELECT count(*) FROM kb_chunks c JOIN kb_documents d ON d.id = c.document_id "
            "WHERE d.source_id = ?",
            (source_id,),
        ) as cur:
            count_row = await cur.fetchone()
        total_chunks = int(count_row[0]) if count_row else 0
        return IndexReport(source_name, added, changed, unchanged, len(gone), total_chunks)

    async def _insert_chunks(self, pages: Sequence[tuple[int, LoadedPage]]) -> None:
        async with self._db.execute("SELECT coalesce(max(id), 0) FROM kb_chunks") as cur:
            row = await cur.fetchone()
        next_id = int(row[0]) + 1 if row else 1
        chunk_rows: list[tuple[int, int, int, str, str, str]] = []
        fts_rows: list[tuple[int, str, str, str]] = []
        for doc_id, page in pages:
            named = title_words(page.title, page.path)
            for ord_, chunk in enumerate(page.chunks):
                digest = text_digest(embed_text(page.title, chunk.section, chunk.text))
                chunk_rows.append((next_id, doc_id, ord_, chunk.section, chunk.text, digest))
                fts_rows.append((next_id, named, chunk.trail, chunk.text))
                next_id += 1
        await self._db.executemany(
            "INSERT INTO kb_chunks (id, document_id, ord, section, text, digest) VALUES (?, ?, ?, ?, ?, ?)",
            chunk_rows,
        )
        await self._db.executemany(
            "INSERT INTO kb_fts (rowid, title, section, body) VALUES (?, ?, ?, ?)", fts_rows
        )

    async def _delete_chunks(self, doc_ids: Sequence[int]) -> None:
        if not doc_ids:
            return
        ids = json.dumps(list(doc_ids))
        await self._db.execute(
            "DELETE FROM kb_fts WHERE rowid IN (SELECT id FROM kb_chunks WHERE document_id IN "
            "(SELECT value FROM json_each(?)))",
            (ids,),
        )
        await self._db.execute(
            "DELETE FROM kb_chunks WHERE document_id IN (SELECT value FROM json_each(?))", (ids,)
        )

    async def _delete_documents(self, doc_ids: Sequence[int]) -> None:
        if not doc_ids:
            return
        await self._delete_chunks(doc_ids)
        await self._db.execute(
            "DELETE FROM kb_documents WHERE id IN (SELECT value FROM json_each(?))",
            (json.dumps(list(doc_ids)),),
        )

    async def remove(self, source_name: str) -> bool:
        """Drop a source and everything indexed from it; False if there was no such source."""
        async with self._transaction():
            async with self._db.execute("SELECT id FROM kb_sources WHERE name = ?", (source_name,)) as cur:
                row = await cur.fetchone()
            if row is None:
                return False
            source_id = int(row[0])
            async with self._db.execute(
                "SELECT id FROM kb_documents WHERE source_id = ?", (source_id,)
            ) as cur:
                doc_ids = [int(r[0]) async for r in cur]
            await self._delete_documents(doc_ids)
            await self._db.execute("DELETE FROM kb_sources WHERE id = ?", (source_id,))
            await self._db.execute(
                "DELETE FROM kb_vectors WHERE digest NOT IN (SELECT digest FROM kb_chunks)"
            )
            await self._bump_version()
        return True

    async def sources(self) -> list[SourceInfo]:
        """Indexed sources with page and chunk counts, by name."""
        query = (
            "SELECT s.name, s.root, s.url_template, s.indexed_at, "
            "(SELECT count(*) FROM kb_documents d WHERE d.source_id = s.id), "
            "(SELECT count(*) FROM kb_chunks c JOIN kb_documents d ON d.id = c.document_id "
            " WHERE d.source_id = s.id) "
            "FROM kb_sources s ORDER BY s.name"
        )
        async with self._db.execute(query) as cur:
            return [
                SourceInfo(
                    name=str(r[0]),
                    root=str(r[1]),
                    url_template=r[2],
                    indexed_at=str(r[3]),
                    documents=int(r[4]),
                    chunks=int(r[5]),
                )
                async for r in cur
            ]

    async def index_sample_if_empty(self, base_dir: Path) -> IndexReport | None:
        """Index `settings.sample_dir` (relative to `base_dir`) when no source exists yet."""
        sample = self._settings.sample_dir
        if not self._settings.enabled or sample is None or await self.sources():
            return None
        folder = sample if sample.is_absolute() else base_dir / sample
        if not await asyncio.to_thread(folder.is_dir):
            return None
        return await self.add(folder, name="sample", url_template=self._settings.sample_url_template)

    # ------------------------------------------------------------ search

    async def search(self, query: str, k: int | None = None) -> SearchResult:
        """Best pages for `query` (one hit per page), and whether to abstain.

        BM25 alone by default; with an embedder, BM25 and cosine rankings are fused (reciprocal rank
        fusion). If the embeddings endpoint fails, the BM25 result is returned and a warning logged.
        """
        want = k if k is not None else self._settings.top_k
        terms = query_terms(query)
        if not terms or want < 1:
            return SearchResult(query=query, abstain=True, hits=[], confidence=0.0)
        pages = await self._rank_pages(terms, want)
        confidence = await self._confidence(terms, pages[0].document_id) if pages else 0.0
        abstain = confidence < self._settings.min_score
        if self._embedder is not None:
            try:
                semantic, clarity = await self._semantic_pages(self._embedder, query)
            except EmbeddingError as exc:
                log.warning("kb: semantic search unavailable, answering from BM25 alone: %s", exc)
            else:
                if semantic:
                    e = self._settings.embeddings
                    similarity = semantic[0].score
                    depth = max(SEMANTIC_DEPTH, want)
                    pages = reciprocal_rank_fusion([pages[:depth], semantic[:depth]], e.rrf_k)
                    abstain = similarity < e.min_similarity or clarity < e.min_clarity
                    hits = await self._hits(pages[:want])
                    return SearchResult(
                        query,
                        abstain,
                        hits,
                        confidence,
                        similarity=round(similarity, 6),
                        clarity=round(clarity, 3) if clarity != float("inf") else None,
                    )
        if not pages:
            return SearchResult(query=query, abstain=True, hits=[], confidence=0.0)
        hits = await self._hits(pages[:want])
        return SearchResult(query=query, abstain=abstain, hits=hits, confidence=confidence)

    async def _rank_pages(self, terms: Sequence[str], want: int) -> list[PageScore]:
        """Pages by their best chunk's BM25 (body and headings), plus the title-match bonus."""
        s = self._settings
        expression = match_any(list(terms))
        limit = max(100, want * 20)
        while True:
            async with self._db.execute(
                "SELECT f.rowid, c.document_id, bm25(kb_fts, ?, ?, ?) AS r FROM kb_fts f "
                "JOIN kb_chunks c ON c.id = f.rowid WHERE kb_fts MATCH ? ORDER BY r LIMIT ?",
                (s.title_weight, s.section_weight, s.body_weight, expression, limit),
            ) as cur:
                rows = [ChunkScore(int(r[0]), int(r[1]), -float(r[2])) async for r in cur]
            pages = aggregate(rows)
            if len(pages) >= want or len(rows) < limit:
                break
            limit *= 4
        if s.title_match_weight <= 0 or not pages:
            return pages
        matched, sizes = await self._title_matches(terms, [p.document_id for p in pages])
        return title_boost(pages, matched, sizes, s.title_match_weight)

    async def _title_matches(
        self, terms: Sequence[str], doc_ids: Sequence[int]
    ) -> tuple[dict[int, int], dict[int, int]]:
        """Per page: how many question terms its title/file name has (stemmed), and its size."""
        ids = json.dumps(list(doc_ids))
        matched: dict[int, int] = {}
        for term in terms:
            async with self._db.execute(
                "SELECT DISTINCT c.document_id FROM kb_fts f JOIN kb_chunks c ON c.id = f.rowid "
                "WHERE kb_fts MATCH ? AND c.document_id IN (SELECT value FROM json_each(?))",
                (f"title : {quote_term(term)}", ids),
            ) as cur:
                async for (doc_id,) in cur:
                    matched[int(doc_id)] = matched.get(int(doc_id), 0) + 1
        sizes: dict[int, int] = {}
        async with self._db.execute(
            "SELECT id, title, path FROM kb_documents WHERE id IN (SELECT value FROM json_each(?))",
            (ids,),
        ) as cur:
            async for doc_id, title, path in cur:
                sizes[int(doc_id)] = title_term_count(str(title), str(path))
        return matched, sizes

    async def _semantic_pages(self, embedder: Embedder, query: str) -> tuple[list[PageScore], float]:
        """Pages by their best chunk's cosine similarity to the query (best first), and the clarity:
        how far the best cosine stands above the rest, in standard deviations."""
        rows = await self._vectors(embedder.model)
        if not rows:
            return [], 0.0
        [vector] = await embedder.embed([query])
        scored = await asyncio.to_thread(_cosine_chunks, vector, rows)
        return aggregate(scored), clarity([c.score for c in scored])

    async def _vectors(self, model: str) -> list[VectorRow]:
        """All chunk vectors of `model`, cached until the indexed content changes."""
        async with self._db.execute("SELECT value FROM kb_meta WHERE key = 'content_version'") as cur:
            row = await cur.fetchone()
        version = str(row[0]) if row else "0"
        cached = self._vector_cache
        if cached is not None and cached[0] == version and cached[1] == model:
            return cached[2]
        async with self._db.execute(
            "SELECT c.id, c.document_id, v.vector FROM kb_chunks c "
            "JOIN kb_vectors v ON v.model = ? AND v.digest = c.digest",
            (model,),
        ) as cur:
            raw = await cur.fetchall()
        rows = await asyncio.to_thread(lambda: [(int(r[0]), int(r[1]), from_blob(bytes(r[2]))) for r in raw])
        self._vector_cache = (version, model, rows)
        return rows

    async def _confidence(self, terms: Sequence[str], document_id: int) -> float:
        """IDF-weighted share of the query's terms found anywhere in the best page (0..1)."""
        async with self._db.execute("SELECT count(*) FROM kb_documents") as cur:
            row = await cur.fetchone()
        total = int(row[0]) if row else 0
        weights: dict[str, float] = {}
        present: list[str] = []
        for term in terms:
            async with self._db.execute(
                "SELECT count(DISTINCT c.document_id), coalesce(max(c.document_id = ?), 0) "
                "FROM kb_fts f JOIN kb_chunks c ON c.id = f.rowid WHERE kb_fts MATCH ?",
                (document_id, match_any([term])),
            ) as cur:
                counts = await cur.fetchone()
            frequency = int(counts[0]) if counts else 0
            weights[term] = idf(total, frequency)
            if counts and counts[1]:
                present.append(term)
        return coverage(weights, present)

    async def _hits(self, pages: Sequence[PageScore]) -> list[Hit]:
        hits: list[Hit] = []
        for page in pages:
            async with self._db.execute(
                "SELECT d.path, d.title, c.section, d.url, c.text, s.name FROM kb_chunks c "
                "JOIN kb_documents d ON d.id = c.document_id "
                "JOIN kb_sources s ON s.id = d.source_id WHERE c.id = ?",
                (page.best_chunk_id,),
            ) as cur:
                row = await cur.fetchone()
            if row is None:
                continue
            hits.append(
                Hit(
                    source=str(row[0]),
                    title=str(row[1]),
                    section=str(row[2]),
                    url=row[3],
                    text=str(row[4]),
                    score=round(page.score, 6),
                    source_name=str(row[5]),
                    chunk_id=page.best_chunk_id,
                )
            )
        return hits

    async def passage(self, hit: Hit, max_chars: int) -> str:
        """The page from the hit's chunk onwards (headings kept), cut near `max_chars`.

        A hit's chunk is often a section's first paragraph; a reader without a model needs the
        steps that follow it.
        """
        async with self._db.execute(
            "SELECT c.section, c.text FROM kb_chunks c JOIN kb_chunks start"
            " ON start.id = ? AND c.document_id = start.document_id AND c.ord >= start.ord"
            " ORDER BY c.ord",
            (hit.chunk_id,),
        ) as cur:
            rows = [(str(r[0]), str(r[1])) async for r in cur]
        parts: list[str] = []
        size, section = 0, hit.section
        for heading, text in rows:
            if heading != section:
                parts.append(heading)
                section = heading
            parts.append(text)
            size += len(heading) + len(text)
            if size >= max_chars:
                break
        return "\n\n".join(parts) if parts else hit.text
