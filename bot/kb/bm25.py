"""BM25 over the FTS index: pages ranked by their best chunk plus the title-match bonus, and the
confidence (IDF-weighted term coverage) of the best page, which decides BM25's abstain.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import aiosqlite

from .query import match_any, quote_term
from .ranking import ChunkScore, PageScore, TitleSize, aggregate, coverage, idf, title_boost
from .settings import KBSettings

# Per-term counts are asked in one compound statement per this many terms (SQLite allows 500
# SELECTs in one), so a search costs a few trips to the database thread, not two per term.
TERMS_PER_STATEMENT = 100


def _batches(terms: Sequence[str]) -> list[Sequence[str]]:
    return [terms[i : i + TERMS_PER_STATEMENT] for i in range(0, len(terms), TERMS_PER_STATEMENT)]


async def rank_pages(
    db: aiosqlite.Connection, settings: KBSettings, terms: Sequence[str], want: int, title_size: TitleSize
) -> list[PageScore]:
    """Pages by their best chunk's BM25 (body and headings), plus the title-match bonus."""
    pages = await _pages_by_best_chunk(db, settings, terms, want)
    if settings.title_match_weight <= 0 or not pages:
        return pages
    matched, sizes = await _title_matches(db, terms, [p.document_id for p in pages], title_size)
    return title_boost(pages, matched, sizes, settings.title_match_weight)


async def _pages_by_best_chunk(
    db: aiosqlite.Connection, s: KBSettings, terms: Sequence[str], want: int
) -> list[PageScore]:
    """Read matching chunks best first, widening the window until `want` pages are found."""
    expression = match_any(list(terms))
    limit = max(100, want * 20)
    while True:
        found = await db.execute_fetchall(
            "SELECT f.rowid, c.document_id, bm25(kb_fts, ?, ?, ?) AS r FROM kb_fts f "
            "JOIN kb_chunks c ON c.id = f.rowid WHERE kb_fts MATCH ? ORDER BY r LIMIT ?",
            (s.title_weight, s.section_weight, s.body_weight, expression, limit),
        )
        rows = [ChunkScore(int(r[0]), int(r[1]), -float(r[2])) for r in found]
        pages = aggregate(rows)
        if len(pages) >= want or len(rows) < limit:
            return pages
        limit *= 4


async def _title_matches(
    db: aiosqlite.Connection, terms: Sequence[str], doc_ids: Sequence[int], title_size: TitleSize
) -> tuple[dict[int, int], dict[int, int]]:
    """Per page: how many question terms its title/file name has (stemmed), and its size."""
    ids = json.dumps(list(doc_ids))
    matched: dict[int, int] = {}
    sizes: dict[int, int] = {}
    # The pages' titles come in the first batch's statement, as rows without a term: one trip.
    of_pages = "SELECT 1, id, title, path FROM kb_documents WHERE id IN (SELECT value FROM json_each(?))"
    one_term = (
        "SELECT DISTINCT 0, c.document_id, NULL, NULL FROM kb_fts f JOIN kb_chunks c ON c.id = f.rowid "
        "WHERE kb_fts MATCH ? AND c.document_id IN (SELECT value FROM json_each(?))"
    )
    for n, batch in enumerate(_batches(terms)):
        params = [value for term in batch for value in (f"title : {quote_term(term)}", ids)]
        statements = [one_term] * len(batch) + ([of_pages] if n == 0 else [])
        for is_title, doc_id, title, path in await db.execute_fetchall(
            " UNION ALL ".join(statements), params + ([ids] if n == 0 else [])
        ):
            if is_title:
                sizes[int(doc_id)] = title_size(str(title), str(path))
            else:
                matched[int(doc_id)] = matched.get(int(doc_id), 0) + 1  # once per term its title has
    return matched, sizes


async def confidence(db: aiosqlite.Connection, terms: Sequence[str], document_id: int) -> float:
    """IDF-weighted share of the query's terms found anywhere in the page (0..1)."""
    total, counts = await _term_counts(db, terms, document_id)
    weights: dict[str, float] = {}
    present: list[str] = []
    for term, (frequency, in_page) in zip(terms, counts, strict=True):
        weights[term] = idf(total, frequency)
        if in_page:
            present.append(term)
    return coverage(weights, present)


async def _term_counts(
    db: aiosqlite.Connection, terms: Sequence[str], document_id: int
) -> tuple[int, list[tuple[int, bool]]]:
    """How many pages there are; for each term, in order: how many pages contain it, and whether
    the given page is one."""
    pages_in_all = "SELECT -1, count(*), 0 FROM kb_documents"  # with the first batch: one trip
    one_term = (
        "SELECT ? AS i, count(DISTINCT c.document_id), coalesce(max(c.document_id = ?), 0) "
        "FROM kb_fts f JOIN kb_chunks c ON c.id = f.rowid WHERE kb_fts MATCH ?"
    )
    total = 0
    counts: dict[int, tuple[int, bool]] = {}
    for start in range(0, len(terms), TERMS_PER_STATEMENT):
        batch = terms[start : start + TERMS_PER_STATEMENT]
        params = [v for i, term in enumerate(batch, start) for v in (i, document_id, match_any([term]))]
        statements = ([pages_in_all] if start == 0 else []) + [one_term] * len(batch)
        for i, pages, in_page in await db.execute_fetchall(" UNION ALL ".join(statements), params):
            if int(i) < 0:
                total = int(pages)
            else:
                counts[int(i)] = (int(pages), bool(in_page))
    return total, [counts.get(i, (0, False)) for i in range(len(terms))]
