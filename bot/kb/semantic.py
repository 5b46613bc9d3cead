"""Semantic ranking at search time: the query's cosine against every chunk vector (vectors cached
until the indexed content changes), the clarity of the best one, and its fusion with BM25 (RRF)
with the semantic abstain decision.
"""

from __future__ import annotations

import asyncio
import statistics
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeAlias

import aiosqlite

from .embeddings import Embedder, dot, from_blob
from .ranking import ChunkScore, PageScore, aggregate, reciprocal_rank_fusion
from .settings import EmbeddingSettings
from .writes import content_version

SEMANTIC_DEPTH = 50  # pages taken from each ranking into the fusion

# Below this many chunks a z-score says little (with n chunks it can't exceed √(n−1)): no verdict.
CLARITY_MIN_CHUNKS = 50

# chunk id, document id, unit vector
VectorRow: TypeAlias = "tuple[int, int, array[float]]"


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


@dataclass(frozen=True, slots=True)
class Fused:
    """BM25 and semantic rankings fused, and what the semantic side says about abstaining."""

    pages: list[PageScore]
    abstain: bool
    similarity: float  # the best chunk's cosine
    clarity: float  # how many standard deviations it stands above the mean (inf: too few chunks)


class SemanticRanker:
    """Ranks pages by embedding similarity and fuses that ranking with BM25's."""

    def __init__(self, db: aiosqlite.Connection, embedder: Embedder, settings: EmbeddingSettings) -> None:
        self._db = db
        self._embedder = embedder
        self._settings = settings
        self._cache: tuple[str, str, list[VectorRow]] | None = None  # version, model, rows

    async def fuse(self, query: str, bm25: Sequence[PageScore], want: int) -> Fused | None:
        """`bm25` fused with the semantic ranking of `query`; None when no chunk has a vector yet.

        Raises `EmbeddingError` when the query cannot be embedded.
        """
        semantic, chunk_clarity = await self._rank(query)
        if not semantic:
            return None
        similarity = semantic[0].score
        depth = max(SEMANTIC_DEPTH, want)
        pages = reciprocal_rank_fusion([bm25[:depth], semantic[:depth]], self._settings.rrf_k)
        abstain = similarity < self._settings.min_similarity or chunk_clarity < self._settings.min_clarity
        return Fused(pages, abstain, similarity, chunk_clarity)

    async def _rank(self, query: str) -> tuple[list[PageScore], float]:
        """Pages by their best chunk's cosine similarity to the query (best first), and the clarity:
        how far the best cosine stands above the rest, in standard deviations."""
        rows = await self._vectors(self._embedder.model)
        if not rows:
            return [], 0.0
        [vector] = await self._embedder.embed([query])
        scored = await asyncio.to_thread(_cosine_chunks, vector, rows)
        return aggregate(scored), clarity([c.score for c in scored])

    async def _vectors(self, model: str) -> list[VectorRow]:
        """All chunk vectors of `model`, cached until the indexed content changes."""
        version = await content_version(self._db)
        cached = self._cache
        if cached is not None and cached[0] == version and cached[1] == model:
            return cached[2]
        async with self._db.execute(
            "SELECT c.id, c.document_id, v.vector FROM kb_chunks c "
            "JOIN kb_vectors v ON v.model = ? AND v.digest = c.digest",
            (model,),
        ) as cur:
            raw = await cur.fetchall()
        rows = await asyncio.to_thread(lambda: [(int(r[0]), int(r[1]), from_blob(bytes(r[2]))) for r in raw])
        self._cache = (version, model, rows)
        return rows
