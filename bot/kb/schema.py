"""Knowledge-base tables inside the bot's own SQLite database, versioned in `kb_meta`.

The KB keeps its own schema version (not `PRAGMA user_version`, which belongs to the core store),
so its tables can migrate independently.
"""

from __future__ import annotations

import aiosqlite

SCHEMA_VERSION = 2

_V1 = [
    """CREATE TABLE IF NOT EXISTS kb_sources (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        root TEXT NOT NULL,
        url_template TEXT,
        include_pattern TEXT NOT NULL,
        indexed_at TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS kb_documents (
        id INTEGER PRIMARY KEY,
        source_id INTEGER NOT NULL REFERENCES kb_sources(id),
        path TEXT NOT NULL,
        title TEXT NOT NULL,
        url TEXT,
        content_hash TEXT NOT NULL,
        UNIQUE (source_id, path)
    )""",
    """CREATE TABLE IF NOT EXISTS kb_chunks (
        id INTEGER PRIMARY KEY,
        document_id INTEGER NOT NULL REFERENCES kb_documents(id),
        ord INTEGER NOT NULL,
        section TEXT NOT NULL,
        text TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS kb_chunks_document ON kb_chunks(document_id)",
    # rowid = kb_chunks.id; the FTS table keeps its own copy of the indexed text.
    """CREATE VIRTUAL TABLE IF NOT EXISTS kb_fts USING fts5(
        title, section, body, tokenize = 'porter unicode61 remove_diacritics 2'
    )""",
]

# Optional semantic retrieval: vectors are cached by (model, digest of the embedded text), so a chunk
# whose text did not change keeps its vector even when its page is re-indexed, and switching models
# re-embeds. '' = digest not computed yet (rows from version 1); filled in when vectors are computed.
_V2 = [
    "ALTER TABLE kb_chunks ADD COLUMN digest TEXT NOT NULL DEFAULT ''",
    "CREATE INDEX IF NOT EXISTS kb_chunks_digest ON kb_chunks(digest)",
    """CREATE TABLE IF NOT EXISTS kb_vectors (
        model TEXT NOT NULL,
        digest TEXT NOT NULL,
        vector BLOB NOT NULL,  -- unit-normalised float32, little-endian
        PRIMARY KEY (model, digest)
    ) WITHOUT ROWID""",
]

# version reached -> statements that reach it from the previous version
MIGRATIONS: dict[int, list[str]] = {1: _V1, 2: _V2}


class SchemaError(Exception):
    """The database holds a knowledge base this code cannot use."""


async def ensure_schema(db: aiosqlite.Connection) -> None:
    await db.execute("CREATE TABLE IF NOT EXISTS kb_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    async with db.execute("SELECT value FROM kb_meta WHERE key = 'schema_version'") as cursor:
        row = await cursor.fetchone()
    current = int(row[0]) if row else 0
    if current > SCHEMA_VERSION:
        raise SchemaError(
            f"knowledge base schema version {current} is newer than this bot supports ({SCHEMA_VERSION})"
        )
    for version in range(current + 1, SCHEMA_VERSION + 1):
        for statement in MIGRATIONS[version]:
            await db.execute(statement)
        await db.execute(
            "INSERT INTO kb_meta (key, value) VALUES ('schema_version', ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (str(version),),
        )
    await db.commit()
