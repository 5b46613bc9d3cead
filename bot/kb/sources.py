"""Administering sources: listing them with their sizes, removing one with everything indexed
from it, and finding the sample help centre to index while no source exists.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiosqlite

from .settings import KBSettings
from .types import SourceInfo
from .writes import Writer, bump_version, delete_documents, drop_orphan_vectors

SAMPLE = "sample"  # the packaged sample help center's source name

_LIST = (
    "SELECT s.name, s.root, s.url_template, s.indexed_at, "
    "(SELECT count(*) FROM kb_documents d WHERE d.source_id = s.id), "
    "(SELECT count(*) FROM kb_chunks c JOIN kb_documents d ON d.id = c.document_id "
    " WHERE d.source_id = s.id) "
    "FROM kb_sources s ORDER BY s.name"
)


async def list_sources(db: aiosqlite.Connection) -> list[SourceInfo]:
    """Indexed sources with page and chunk counts, by name."""
    async with db.execute(_LIST) as cur:
        return [
            SourceInfo(
                name=str(r[0]),
                root=str(r[1]),
                url_template=r[2],
                indexed_at=str(r[3]),
                documents=int(r[4]),
                chunks=int(r[5]),
            )
            async for r in cur
        ]


async def remove_source(writer: Writer, source_name: str) -> bool:
    """Drop a source and everything indexed from it; False if there was no such source."""
    async with writer.transaction() as db:
        async with db.execute("SELECT id FROM kb_sources WHERE name = ?", (source_name,)) as cur:
            row = await cur.fetchone()
        if row is None:
            return False
        source_id = int(row[0])
        async with db.execute("SELECT id FROM kb_documents WHERE source_id = ?", (source_id,)) as cur:
            doc_ids = [int(r[0]) async for r in cur]
        await delete_documents(db, doc_ids)
        await db.execute("DELETE FROM kb_sources WHERE id = ?", (source_id,))
        await drop_orphan_vectors(db)
        await bump_version(db)
    return True


async def drop_stale_sample(writer: Writer) -> bool:
    """Remove the sample source when another source exists too; True if it was removed."""
    names = [s.name for s in await list_sources(writer.db)]
    if SAMPLE not in names or len(names) == 1:
        return False
    return await remove_source(writer, SAMPLE)


async def sample_to_index(db: aiosqlite.Connection, settings: KBSettings, base_dir: Path) -> Path | None:
    """`settings.sample_dir` (relative to `base_dir`) when the KB is on and has no source yet and
    that folder exists; None otherwise."""
    sample = settings.sample_dir
    if not settings.enabled or sample is None or await list_sources(db):
        return None
    folder = sample if sample.is_absolute() else base_dir / sample
    return folder if await asyncio.to_thread(folder.is_dir) else None
