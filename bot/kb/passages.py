"""Excerpts a customer can read: from a hit's section, the few sentences or steps around what the
question asked, cut near a size and rendered for the platform.

A hit's chunk may be a section's first paragraph while the steps follow in the next chunk, so the
whole section (its chunks in page order) is the text an excerpt is chosen from.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import aiosqlite

from .query import query_terms
from .render import for_platform
from .types import Hit

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\[(])")
_LIST_ITEM = re.compile(r"^\s*(?:\d+\.|-)\s")
_STEM = 5  # a question's word matches a text word sharing its first letters ("export", "exporting")


@dataclass(frozen=True, slots=True)
class _Unit:
    """A sentence, a list item or a code line, and what joins it to the unit before it."""

    text: str
    joint: str  # "" for the first, else " ", "\n" or "\n\n"

    @property
    def listed(self) -> bool:
        return bool(_LIST_ITEM.match(self.text))


async def excerpt(db: aiosqlite.Connection, hit: Hit, query: str, max_chars: int, platform: str) -> str:
    """The part of the hit's section that best matches `query`, near `max_chars`, for `platform`.
    A page's intro that says little (one line) reads on into the sections after it, headings
    kept: the steps a reader needs follow it."""
    section, following = await _sections(db, hit)
    text = choose(section or hit.text, query, max_chars)
    for heading, body in following:
        room = max_chars - len(text) - len(heading) - 3
        if len(text) >= max_chars // 2 or room < 80:
            break
        text += f"\n\n{heading}\n{choose(body, '', room)}"
    return for_platform(text, platform)


async def _sections(db: aiosqlite.Connection, hit: Hit) -> tuple[str, list[tuple[str, str]]]:
    """The text of the hit's section (its chunk and the neighbours under the same heading), and,
    when it is the page's intro, the (heading, text) of the sections after it."""
    async with db.execute(
        "SELECT c.ord, c.section, c.text, c.id FROM kb_chunks c JOIN kb_chunks start"
        " ON start.id = ? AND c.document_id = start.document_id ORDER BY c.ord",
        (hit.chunk_id,),
    ) as cur:
        rows = [(int(r[0]), str(r[1]), str(r[2]), int(r[3])) async for r in cur]
    at = next((i for i, row in enumerate(rows) if row[3] == hit.chunk_id), None)
    if at is None:
        return "", []
    first = last = at
    while first > 0 and rows[first - 1][1] == rows[at][1]:
        first -= 1
    while last + 1 < len(rows) and rows[last + 1][1] == rows[at][1]:
        last += 1
    following: list[tuple[str, str]] = []
    for _, heading, text, _ in rows[last + 1 :] if first == 0 else ():  # only an intro reads on
        if following and following[-1][0] == heading:
            following[-1] = (heading, f"{following[-1][1]}\n\n{text}")
        else:
            following.append((heading, text))
    return "\n\n".join(row[2] for row in rows[first : last + 1]), following


def _units(text: str) -> list[_Unit]:
    units: list[_Unit] = []
    for p, paragraph in enumerate(re.split(r"\n\s*\n", text.strip())):
        for n, line in enumerate(paragraph.splitlines()):
            pieces = [line] if _LIST_ITEM.match(line) else _SENTENCE_END.split(line)
            for s, piece in enumerate(p for p in pieces if p.strip()):
                joint = " " if s else ("\n" if n else ("\n\n" if p else ""))
                units.append(_Unit(piece.rstrip(), joint if units else ""))
    return units


def _matches(unit: _Unit, stems: Sequence[str]) -> int:
    words = {w[:_STEM] for w in re.findall(r"\w+", unit.text.lower())}
    return sum(1 for stem in stems if stem in words)


def _size(units: Sequence[_Unit]) -> int:
    return sum(len(u.text) + len(u.joint) for u in units)


def choose(text: str, query: str, max_chars: int) -> str:
    """The sentences or steps of `text` around the one matching most of `query`'s words: the steps
    of its list from the first, the sentence that introduces them, then what follows."""
    units = _units(text)
    if not units:
        return ""
    stems = [t[:_STEM] for t in query_terms(query)]
    best = max(range(len(units)), key=lambda i: (_matches(units[i], stems), -i))
    first = last = best
    room = max_chars - len(units[best].text)

    def take(i: int) -> bool:
        nonlocal room
        cost = len(units[i].text) + len(units[i].joint)
        if cost > room:
            return False
        room -= cost
        return True

    while first > 0 and units[first].listed and units[first - 1].listed and take(first - 1):
        first -= 1
    if first > 0 and units[first - 1].text.endswith(":") and take(first - 1):
        first -= 1
    while last + 1 < len(units) and take(last + 1):
        last += 1
    while first > 0 and take(first - 1):
        first -= 1
    chosen = units[first : last + 1]
    out = "".join((u.joint if i else "") + u.text for i, u in enumerate(chosen))
    if len(out) > max_chars:  # one unit longer than the excerpt: cut it at a word
        out = out[:max_chars].rsplit(" ", 1)[0] + " …"
    return out
