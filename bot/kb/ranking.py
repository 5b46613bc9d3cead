"""Pure ranking helpers: per-page aggregation of chunk scores and the abstain confidence.

Kept apart from SQL so the scoring rules are easy to read, test and tune.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from .query import query_terms

TITLES_REMEMBERED = 4096  # pages whose title word count a Searcher keeps (a help center has a few hundred)
TitleSize = Callable[[str, str], int]  # title_term_count, or a remembering copy of it


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


def title_words(title: str, path: str) -> str:
    """The page title plus the words of its file name ("mute-a-user.md" -> "mute a user").

    Help-centre slugs are short, deliberate names of the task a page covers, often worded
    differently from the display title, so both are matched against the question.
    """
    stem = PurePosixPath(path).with_suffix("").as_posix()
    slug = re.sub(r"[-_/.]+", " ", stem).strip()
    return f"{title} {slug}" if slug else title


def title_term_count(title: str, path: str) -> int:
    """Distinct content words of a page's title and file name (the denominator of title coverage)."""
    return len(query_terms(title_words(title, path)))


def title_boost(
    pages: Sequence[PageScore], matched: Mapping[int, int], sizes: Mapping[int, int], weight: float
) -> list[PageScore]:
    """Rescale page scores to the best one (1.0) and add `weight` x the share of each page's title
    words found in the question, re-sorted. Rewards the page *named* after the question's topic over
    long pages that merely mention its words."""
    if not pages:
        return []
    top = max(p.score for p in pages)
    scale = 1.0 / top if top > 0 else 1.0
    out = []
    for p in pages:
        size = sizes.get(p.document_id, 0)
        share = min(matched.get(p.document_id, 0), size) / size if size else 0.0
        out.append(PageScore(p.document_id, p.best_chunk_id, p.score * scale + weight * share))
    out.sort(key=lambda p: (-p.score, p.document_id))
    return out


def reciprocal_rank_fusion(rankings: Sequence[Sequence[PageScore]], k: int) -> list[PageScore]:
    """Fuse ranked page lists by sum of 1 / (k + rank); the best chunk comes from the first list
    that has the page."""
    fused: dict[int, float] = {}
    chunk: dict[int, int] = {}
    for ranking in rankings:
        for rank, page in enumerate(ranking, start=1):
            fused[page.document_id] = fused.get(page.document_id, 0.0) + 1.0 / (k + rank)
            chunk.setdefault(page.document_id, page.best_chunk_id)
    out = [PageScore(doc, chunk[doc], score) for doc, score in fused.items()]
    out.sort(key=lambda p: (-p.score, p.document_id))
    return out
