"""One search: BM25 ranking and its abstain decision, fused with the semantic ranking when there is
one (falling back to BM25 alone if the embeddings endpoint fails), and the hits read back.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Sequence

import aiosqlite

from .bm25 import confidence, rank_pages
from .embeddings import EmbeddingError
from .query import query_terms
from .ranking import TITLES_REMEMBERED, PageScore, title_term_count
from .semantic import Fused, SemanticRanker
from .settings import KBSettings
from .types import Hit, SearchResult

log = logging.getLogger(__name__)


def _nothing(query: str) -> SearchResult:
    return SearchResult(query=query, abstain=True, hits=[], confidence=0.0)


class Searcher:
    """Best pages for a question, one hit per page, BM25 alone or hybrid."""

    def __init__(
        self, db: aiosqlite.Connection, settings: KBSettings, semantic: SemanticRanker | None
    ) -> None:
        self._db = db
        self._settings = settings
        self._semantic = semantic
        # Every search asks it of its candidate pages; pages rarely change between searches.
        self._title_size = functools.lru_cache(maxsize=TITLES_REMEMBERED)(title_term_count)

    async def search(self, query: str, k: int | None) -> SearchResult:
        """See `KnowledgeBase.search`."""
        want = k if k is not None else self._settings.top_k
        terms = query_terms(query)
        if not terms or want < 1:
            return _nothing(query)
        pages = await rank_pages(self._db, self._settings, terms, want, self._title_size)
        score = await confidence(self._db, terms, pages[0].document_id) if pages else 0.0
        fused = await self._fuse(query, pages, want)
        if fused is not None:
            return await self._hybrid_result(query, fused, score, want)
        if not pages:
            return _nothing(query)
        hits = await read_hits(self._db, pages[:want])
        abstain = score < self._settings.min_score
        return SearchResult(query=query, abstain=abstain, hits=hits, confidence=score)

    async def _fuse(self, query: str, pages: Sequence[PageScore], want: int) -> Fused | None:
        """The hybrid ranking, or None for BM25 alone (no embedder, no vectors, or it failed)."""
        if self._semantic is None:
            return None
        try:
            return await self._semantic.fuse(query, pages, want)
        except EmbeddingError as exc:
            log.warning("kb: semantic search unavailable, answering from BM25 alone: %s", exc)
            return None

    async def _hybrid_result(self, query: str, fused: Fused, score: float, want: int) -> SearchResult:
        hits = await read_hits(self._db, fused.pages[:want])
        return SearchResult(
            query,
            fused.abstain,
            hits,
            score,
            similarity=round(fused.similarity, 6),
            clarity=round(fused.clarity, 3) if fused.clarity != float("inf") else None,
        )


async def read_hits(db: aiosqlite.Connection, pages: Sequence[PageScore]) -> list[Hit]:
    """Each page's best chunk with its page's title, URL and source, in order (gone ones skipped)."""
    if not pages:
        return []
    ids = json.dumps([page.best_chunk_id for page in pages])
    found = await db.execute_fetchall(
        "SELECT c.id, d.path, d.title, c.section, d.url, c.text, s.name FROM kb_chunks c "
        "JOIN kb_documents d ON d.id = c.document_id "
        "JOIN kb_sources s ON s.id = d.source_id WHERE c.id IN (SELECT value FROM json_each(?))",
        (ids,),
    )
    rows = {int(row[0]): row for row in found}
    return [_hit(rows[page.best_chunk_id], page) for page in pages if page.best_chunk_id in rows]


def _hit(row: aiosqlite.Row, page: PageScore) -> Hit:
    return Hit(
        source=str(row[1]),
        title=str(row[2]),
        section=str(row[3]),
        url=row[4],
        text=str(row[5]),
        score=round(page.score, 6),
        source_name=str(row[6]),
        chunk_id=page.best_chunk_id,
    )
