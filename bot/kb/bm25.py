"""BM25 over the FTS index: pages ranked by their best chunk plus the title-match bonus, and the
confidence (IDF-weighted term coverage) of the best page, which decides BM25's abstain.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import aiosqlite

from .query import match_any, quote_term
from .ranking import ChunkScore, PageScore, aggregate, coverage, idf, title_boost, title_term_count
from .settings import KBSettings


async def rank_pages(
    db: aiosqlite.Connection, settings: KBSettings, terms: Sequence[str], want: int
) -> list[PageScore]:
    """Pages by their best chunk's BM25 (body and headings), plus the title-match bonus."""
    pages = await _pages_by_best_chunk(db, settings, terms, want)
    if settings.title_match_weight <= 0 or not pages:
        return pages
    matched, sizes = await _title_matches(db, terms, [p.document_id for p in pages])
    return title_boost(pages, matched, sizes, settings.title_match_weight)


async def _pages_by_best_chunk(
    db: aiosqlite.Connection, s: KBSettings, terms: Sequence[str], want: int
) -> list[PageScore]:
    """Read matching chunks best first, widening the window until `want` pages are found."""
    expression = match_any(list(terms))
    limit = max(100, want * 20)
    while True:
        async with db.execute(
            "SELECT f.rowid, c.document_id, bm25(kb_fts, ?, ?, ?) AS r FROM kb_fts f "
            "JOIN kb_chunks c ON c.id = f.rowid WHERE kb_fts MATCH ? ORDER BY r LIMIT ?",
            (s.title_weight, s.section_weight, s.body_weight, expression, limit),
        ) as cur:
            rows = [ChunkScore(int(r[0]), int(r[1]), -float(r[2])) async for r in cur]
        pages = aggregate(rows)
        if len(pages) >= want or len(rows) < limit:
            return pages
        limit *= 4


async def _title_matches(
    db: aiosqlite.Connection, terms: Sequence[str], doc_ids: Sequence[int]
) -> tuple[dict[int, int], dict[int, int]]:
    """Per page: how many question terms its title/file name has (stemmed), and its size."""
    ids = json.dumps(list(doc_ids))
    matched: dict[int, int] = {}
    for term in terms:
        async with db.execute(
            "SELECT DISTINCT c.document_id FROM kb_fts f JOIN kb_chunks c ON c.id = f.rowid "
            "WHERE kb_fts MATCH ? AND c.document_id IN (SELECT value FROM json_each(?))",
            (f"title : {quote_term(term)}", ids),
        ) as cur:
            async for (doc_id,) in cur:
                matched[int(doc_id)] = matched.get(int(doc_id), 0) + 1
    sizes: dict[int, int] = {}
    async with db.execute(
        "SELECT id, title, path FROM kb_documents WHERE id IN (SELECT value FROM json_each(?))", (ids,)
    ) as cur:
        async for doc_id, title, path in cur:
            sizes[int(doc_id)] = title_term_count(str(title), str(path))
    return matched, sizes


async def confidence(db: aiosqlite.Connection, terms: Sequence[str], document_id: int) -> float:
    """IDF-weighted share of the query's terms found anywhere in the page (0..1)."""
    async with db.execute("SELECT count(*) FROM kb_documents") as cur:
        row = await cur.fetchone()
    total = int(row[0]) if row else 0
    weights: dict[str, float] = {}
    present: list[str] = []
    for term in terms:
        frequency, in_page = await _term_counts(db, term, document_id)
        weights[term] = idf(total, frequency)
        if in_page:
            present.append(term)
    return coverage(weights, present)


async def _term_counts(db: aiosqlite.Connection, term: str, document_id: int) -> tuple[int, bool]:
    """How many pages contain `term`, and whether the given page is one of them."""
    async with db.execute(
        "SELECT count(DISTINCT c.document_id), coalesce(max(c.document_id = ?), 0) "
        "FROM kb_fts f JOIN kb_chunks c ON c.id = f.rowid WHERE kb_fts MATCH ?",
        (document_id, match_any([term])),
    ) as cur:
        counts = await cur.fetchone()
    if counts is None:
        return 0, False
    return int(counts[0]), bool(counts[1])
