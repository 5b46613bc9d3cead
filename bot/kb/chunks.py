"""Splits parsed sections into retrieval chunks of bounded size, on paragraph boundaries.

Each chunk keeps its page title and heading so a hit can be shown and cited on its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .markup import ParsedPage


@dataclass(frozen=True, slots=True)
class Chunk:
    section: str  # nearest heading (the page title for the intro)
    trail: str  # enclosing headings, joined, for indexing
    text: str


def _pieces(paragraph: str, limit: int) -> list[str]:
    """Break one over-long paragraph at line, then sentence, then word boundaries."""
    if len(paragraph) <= limit:
        return [paragraph]
    for splitter in (r"\n", r"(?<=[.!?])\s+", r"\s+"):
        parts = [p for p in re.split(splitter, paragraph) if p.strip()]
        if len(parts) > 1:
            out: list[str] = []
            for part in parts:
                out.extend(_pieces(part, limit))
            return out
    return [paragraph[i : i + limit] for i in range(0, len(paragraph), limit)]


def _pack(pieces: list[str], limit: int) -> list[str]:
    chunks: list[str] = []
    current = ""
    for piece in pieces:
        if current and len(current) + 2 + len(piece) > limit:
            chunks.append(current)
            current = piece
        else:
            current = f"{current}\n\n{piece}" if current else piece
    if current:
        chunks.append(current)
    return chunks


def chunk_page(page: ParsedPage, limit: int) -> list[Chunk]:
    out: list[Chunk] = []
    for section in page.sections:
        paragraphs = [p.strip() for p in re.split(r"\n\s*\n", section.text) if p.strip()]
        pieces = [piece for p in paragraphs for piece in _pieces(p, limit)]
        trail = " / ".join(section.trail) if section.trail else section.heading
        for text in _pack(pieces, limit):
            out.append(Chunk(section=section.heading, trail=trail, text=text))
    return out
