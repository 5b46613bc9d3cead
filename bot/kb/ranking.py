"""Pure ranking helpers: per-page aggregation of chunk scores and the abstain confidence.

Kept apart from SQL so the scoring rules are easy to read, test and tune.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ChunkScore:
    chunk_id: int
    document_id: int
    score: float  # higher is better (negated FTS5 bm25)


@dataclass(frozen=True, slots=True)
class PageScore:
    document_id: int
    best_chunk_id: int
    score: float


def aggregate(chunks: Iterable[ChunkScore], second_weight: float = 0.0) -> list[PageScore]:
    """One entry per page, scored by its best chunk (plus a share of its runner-up), best first."""
    best: dict[int, list[ChunkScore]] = {}
    for chunk in chunks:
        best.setdefault(chunk.document_id, []).append(chunk)
    pages = []
    for doc_id, scored in best.items():
        scored.sort(key=lambda c: c.score, reverse=True)
        extra = scored[1].score * second_weight if len(scored) > 1 else 0.0
        pages.append(PageScore(doc_id, scored[0].chunk_id, scored[0].score + extra))
    pages.sort(key=lambda p: (-p.score, p.document_id))
    return pages


def idf(total: int, frequency: int) -> float:
    """BM25's (always positive) inverse document frequency."""
    return math.log(1.0 + (total - frequency + 0.5) / (frequency + 0.5))


def coverage(weights: Mapping[str, float], present: Iterable[str]) -> float:
    """Share of the query's IDF weight carried by the terms a page contains (0..1)."""
    total = sum(weights.values())
    if total <= 0:
        return 0.0
    return sum(weights[t] for t in set(present) if t in weights) / total
