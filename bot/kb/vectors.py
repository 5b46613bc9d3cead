"""Chunk vectors at indexing time: what a chunk's vector represents, and embedding every chunk
text that has no vector for the embedder's model yet (called after each `add`).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence

import aiosqlite

from .embeddings import Embedder, EmbeddingError, to_blob
from .render import plain
from .writes import Writer, bump_version, drop_orphan_vectors

log = logging.getLogger(__name__)

EMBED_GROUP = 256  # chunks embedded (and committed) per round trip group during indexing

# digest of the embedded text -> that text
Todo = dict[str, str]


def embed_text(title: str, section: str, text: str) -> str:
    """What a chunk's vector represents: its page title and heading give the passage its topic."""
    head = title if section in ("", title) else f"{title} — {section}"
    return f"{head}\n\n{plain(text)}"  # the words, not the link targets


def text_digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


async def embed_missing(writer: Writer, embedder: Embedder) -> tuple[int, str | None]:
    """Embed every chunk whose text has no vector for the embedder's model yet.

    Only new or changed chunk texts cost a request (and a KB indexed before embeddings were enabled
    is completed on its next `add`). A failure leaves BM25 intact and is returned as a warning; the
    missing vectors are retried on the next `add`. Returns how many texts were embedded.
    """
    model = embedder.model
    todo, legacy = _plan(await _chunks_without_vector(writer.db, model))
    async with writer.transaction() as db:
        if legacy:
            await db.executemany("UPDATE kb_chunks SET digest = ? WHERE id = ?", legacy)
        await drop_orphan_vectors(db)
        await bump_version(db)
    if legacy:  # a legacy chunk may share its text with one that already has a vector
        await _drop_embedded(writer.db, model, todo)
    return await _embed_groups(writer, embedder, list(todo.items()))


async def _chunks_without_vector(db: aiosqlite.Connection, model: str) -> list[aiosqlite.Row]:
    """(id, digest, title, section, text) of chunks with no digest yet or no vector for `model`."""
    async with db.execute(
        "SELECT c.id, c.digest, d.title, c.section, c.text FROM kb_chunks c "
        "JOIN kb_documents d ON d.id = c.document_id WHERE c.digest = '' OR NOT EXISTS "
        "(SELECT 1 FROM kb_vectors v WHERE v.model = ? AND v.digest = c.digest) ORDER BY c.id",
        (model,),
    ) as cur:
        return list(await cur.fetchall())


def _plan(rows: Sequence[aiosqlite.Row]) -> tuple[Todo, list[tuple[str, int]]]:
    """The distinct texts to embed, and the (digest, chunk id) of legacy chunks that had none."""
    todo: Todo = {}
    legacy: list[tuple[str, int]] = []
    for chunk_id, digest, title, section, text in rows:
        content = embed_text(str(title), str(section), str(text))
        if not digest:
            digest = text_digest(content)
            legacy.append((digest, int(chunk_id)))
        todo.setdefault(str(digest), content)
    return todo, legacy


async def _drop_embedded(db: aiosqlite.Connection, model: str, todo: Todo) -> None:
    """Remove from `todo` the texts that already have a vector for `model`."""
    async with db.execute(
        "SELECT digest FROM kb_vectors WHERE model = ? AND digest IN (SELECT value FROM json_each(?))",
        (model, json.dumps(list(todo))),
    ) as cur:
        for (digest,) in await cur.fetchall():
            todo.pop(str(digest), None)


async def _embed_groups(
    writer: Writer, embedder: Embedder, items: Sequence[tuple[str, str]]
) -> tuple[int, str | None]:
    """Embed and store `items` (digest, text) a group at a time; stop at the first failure."""
    done = 0
    for start in range(0, len(items), EMBED_GROUP):
        group = items[start : start + EMBED_GROUP]
        try:
            vectors = await embedder.embed([content for _, content in group])
        except EmbeddingError as exc:
            missing = len(items) - done
            log.warning("kb: embedding %d chunks failed: %s", missing, exc)
            return done, f"embeddings: {exc}; {missing} chunks have no vector yet (retried on next add)"
        async with writer.transaction() as db:
            await db.executemany(
                "INSERT OR REPLACE INTO kb_vectors (model, digest, vector) VALUES (?, ?, ?)",
                [(embedder.model, digest, to_blob(v)) for (digest, _), v in zip(group, vectors, strict=True)],
            )
            await bump_version(db)
        done += len(group)
    return done, None
