"""Result types of the knowledge base: what indexing reports and what a search returns.

Frozen dataclasses so results can be shared between tasks and cached without copying.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Hit:
    """One relevant page, represented by its best-matching chunk."""

    source: str  # path relative to the folder that was added, e.g. "billing/invoices.md"
    title: str
    section: str
    url: str | None
    text: str
    score: float  # higher is better; comparable within one search only
    source_name: str = ""  # the indexed source (collection) the page belongs to
    chunk_id: int = 0  # the best chunk, for reading on from it (KnowledgeBase.passage)


@dataclass(frozen=True, slots=True)
class SearchResult:
    """Hits best first, and whether the bot should say it has nothing relevant."""

    query: str
    abstain: bool
    hits: list[Hit]
    confidence: float = 0.0  # 0..1, the share of the query's weight the best page covers
    similarity: float | None = None  # best chunk's cosine similarity when embeddings were used
    clarity: float | None = None  # how many standard deviations that cosine stands above the mean


@dataclass(frozen=True, slots=True)
class IndexReport:
    """What one `add` did to a source."""

    source_name: str
    added: int
    changed: int
    unchanged: int
    removed: int
    chunks: int
    warnings: tuple[str, ...] = ()
    embedded: int = 0  # chunk texts sent to the embeddings endpoint by this add
    dropped_sample: bool = False  # this add replaced the packaged sample help center


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """An indexed source as listed by `sources()`."""

    name: str
    root: str
    url_template: str | None
    documents: int
    chunks: int
    indexed_at: str
