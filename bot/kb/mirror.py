"""Bringing this instance's SQLite index in line with the shared catalogue (`bot.kb.shared`): only
the pages whose hash differs are fetched, parsed and re-indexed, sources the catalogue dropped are
removed, and the revision applied is kept in `kb_meta` so an unchanged catalogue costs one query.

Sources indexed here and never shared (`kb_sources.shared = 0`, e.g. added before the instances
shared a database) are left alone; the packaged sample goes once shared pages arrive, as it does
when `kb add` indexes your own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

import aiosqlite

from .indexing import write_source
from .loader import LoadedPage, page_digest, parsed_page
from .shared import ListedSource, SharedPage, SharedPages, SharedSource
from .sources import SAMPLE, drop_stale_sample, remove_source
from .writes import Writer

_REVISION = "shared_revision"


@dataclass(frozen=True, slots=True)
class SyncReport:
    """What applying one revision of the catalogue changed here."""

    revision: int
    added: int = 0
    changed: int = 0
    removed: int = 0  # pages, those of removed sources included
    sources_removed: int = 0
    # Pages fetched whose hash says they were published with other [kb] settings (kb.chunk_chars)
    # or another parser (another supportbot version): chunked here with this instance's.
    foreign: int = 0

    @property
    def changed_anything(self) -> bool:
        return bool(self.added or self.changed or self.removed or self.sources_removed)

    def line(self) -> str:
        gone = f", {self.sources_removed} sources removed" if self.sources_removed else ""
        foreign = (
            f"; {self.foreign} pages were published with other [kb] settings (kb.chunk_chars) or by"
            " another supportbot version, and are chunked with this instance's: give every instance"
            " the same [kb] settings and version"
            if self.foreign
            else ""
        )
        return (
            f"kb sync: applied shared revision {self.revision} ({self.added} pages added,"
            f" {self.changed} changed, {self.removed} removed{gone}){foreign}"
        )


async def applied_revision(db: aiosqlite.Connection) -> int | None:
    """The catalogue revision this index last applied (None: never)."""
    async with db.execute("SELECT value FROM kb_meta WHERE key = ?", (_REVISION,)) as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else None


async def record_revision(db: aiosqlite.Connection, revision: int) -> None:
    await db.execute(
        "INSERT INTO kb_meta (key, value) VALUES (?, ?)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (_REVISION, str(revision)),
    )


async def mark_shared(writer: Writer, name: str) -> None:
    """The source is in the catalogue now: it goes from here when the catalogue drops it."""
    async with writer.transaction() as db:
        await db.execute("UPDATE kb_sources SET shared = 1 WHERE name = ?", (name,))


async def _local(db: aiosqlite.Connection) -> dict[str, tuple[bool, dict[str, str]]]:
    """Every local source: whether it came from the catalogue, and its pages' hashes."""
    found: dict[str, tuple[bool, dict[str, str]]] = {}
    async with db.execute("SELECT name, shared FROM kb_sources") as cur:
        async for name, shared in cur:
            found[str(name)] = (bool(shared), {})
    async with db.execute(
        "SELECT s.name, d.path, d.content_hash FROM kb_documents d JOIN kb_sources s ON s.id = d.source_id"
    ) as cur:
        async for name, path, digest in cur:
            found[str(name)][1][str(path)] = str(digest)
    return found


async def adopt_options(writer: Writer, source: SharedSource) -> None:
    """The source's options as the catalogue has them (a `kb add` may change them alone, e.g. the
    folder it read), and it goes from here when the catalogue drops it."""
    async with writer.transaction() as db:
        await db.execute(
            "UPDATE kb_sources SET root = ?, url_template = ?, include_pattern = ?, shared = 1"
            " WHERE name = ?",
            (source.root, source.url_template, source.include_pattern, source.name),
        )


def _parse(fetched: Sequence[SharedPage], chunk_chars: int) -> tuple[dict[str, LoadedPage], int]:
    """The pages parsed and chunked with this instance's settings, and how many of them were
    published with others (CPU work: run in a worker thread)."""
    parsed = {p.path: parsed_page(p.path, p.text, p.url, p.content_hash, chunk_chars) for p in fetched}
    foreign = sum(p.content_hash != page_digest(p.url, p.text, chunk_chars) for p in fetched)
    return parsed, foreign


class Mirror:
    """Applies the shared catalogue to the local index through the KB's one writer."""

    def __init__(self, writer: Writer, shared: SharedPages, chunk_chars: int) -> None:
        self._writer = writer
        self._shared = shared
        self._chunk_chars = chunk_chars

    async def sync(self) -> SyncReport | None:
        """Apply the catalogue if its revision is not the one applied last; None when it is."""
        revision = await self._shared.revision()
        if revision == await applied_revision(self._writer.db):
            return None
        listing = await self._shared.listing()
        local = await _local(self._writer.db)
        added = changed = removed = sources_removed = foreign = 0
        for listed in listing.sources:
            if listed.source.name == SAMPLE:
                continue  # never shared by `kb add`: each instance indexes its own
            report = await self._apply_source(listed, local.get(listed.source.name))
            added, changed, removed = added + report[0], changed + report[1], removed + report[2]
            foreign += report[3]
        wanted = {listed.source.name for listed in listing.sources}
        for name, (shared, pages) in local.items():
            if shared and name not in wanted and await remove_source(self._writer, name):
                sources_removed += 1
                removed += len(pages)
        if listing.sources:
            await drop_stale_sample(self._writer)  # shared pages replace the sample, as your own do
        async with self._writer.transaction() as db:
            await record_revision(db, listing.revision)
        return SyncReport(listing.revision, added, changed, removed, sources_removed, foreign)

    async def _apply_source(
        self, listed: ListedSource, local: tuple[bool, dict[str, str]] | None
    ) -> tuple[int, int, int, int]:
        """Re-index the source's pages that differ; (added, changed, removed, foreign) pages."""
        stored = local[1] if local is not None else {}
        wanted = listed.pages
        stale = [path for path, digest in wanted.items() if stored.get(path) != digest]
        gone = [path for path in stored if path not in wanted]
        if local is not None and not stale and not gone:  # e.g. this instance's own `kb add`
            await adopt_options(self._writer, listed.source)
            return 0, 0, 0, 0
        fetched = await self._shared.pages(listed.source.name, stale) if stale else []
        parsed, foreign = await asyncio.to_thread(_parse, fetched, self._chunk_chars)
        pages: list[LoadedPage] = []
        for path in wanted:
            if path in parsed:
                pages.append(parsed[path])
            elif path in stored:  # unchanged (or withdrawn since the listing: the next sync sees it)
                pages.append(LoadedPage(path, "", None, stored[path], ()))
        async with self._writer.transaction() as db:
            report = await write_source(db, listed.source, pages, shared=True)
        return report.added, report.changed, report.removed, foreign
