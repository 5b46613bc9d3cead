"""Reading on from a hit: its page from the hit's chunk onwards, headings kept, cut near a size.

A hit's chunk is often a section's first paragraph; a reader without a model needs the steps that
follow it.
"""

from __future__ import annotations

from collections.abc import Sequence

import aiosqlite

from .types import Hit


async def passage(db: aiosqlite.Connection, hit: Hit, max_chars: int) -> str:
    """The page from the hit's chunk onwards (headings kept), cut near `max_chars`."""
    rows = await _rest_of_page(db, hit.chunk_id)
    parts = _join_sections(rows, hit.section, max_chars)
    return "\n\n".join(parts) if parts else hit.text


async def _rest_of_page(db: aiosqlite.Connection, chunk_id: int) -> list[tuple[str, str]]:
    """(section, text) of the chunk and the ones after it on its page, in page order."""
    async with db.execute(
        "SELECT c.section, c.text FROM kb_chunks c JOIN kb_chunks start"
        " ON start.id = ? AND c.document_id = start.document_id AND c.ord >= start.ord"
        " ORDER BY c.ord",
        (chunk_id,),
    ) as cur:
        return [(str(r[0]), str(r[1])) async for r in cur]


def _join_sections(rows: Sequence[tuple[str, str]], section: str, max_chars: int) -> list[str]:
    """Chunk texts with a heading line wherever the section changes, until `max_chars` is reached."""
    parts: list[str] = []
    size = 0
    for heading, text in rows:
        if heading != section:
            parts.append(heading)
            section = heading
        parts.append(text)
        size += len(heading) + len(text)
        if size >= max_chars:
            break
    return parts
