"""Knowledge-base tables inside the bot's own SQLite database: the "kb" migration set, versioned in `kb_meta`.

The KB keeps its own schema version (not `PRAGMA user_version`, which belongs to the core store),
so its tables can migrate independently; `bot.storage.migrations` runs both sets the same way.
"""

from __future__ import annotations

import asyncio

import aiosqlite

from bot.storage.migrations import Migration, MigrationError, MigrationSet, migrate
from bot.storage.sqlite.migrate import MetaVersion, SQLiteTarget

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

# Instances sharing a Postgres database share their pages (bot/kb/shared.py): a source taken from
# that catalogue (1) is dropped here when the catalogue drops it; one indexed only here (0) stays.
_V3 = ["ALTER TABLE kb_sources ADD COLUMN shared INTEGER NOT NULL DEFAULT 0"]

# Each migration takes the KB from version - 1 to version; append, never edit.
KB = MigrationSet("kb", (Migration(1, tuple(_V1)), Migration(2, tuple(_V2)), Migration(3, tuple(_V3))))
SCHEMA_VERSION = KB.latest

# What `kb` commands report as one line: a KB this code cannot use, or a migration that failed.
SchemaError = MigrationError


async def ensure_schema(db: aiosqlite.Connection, write_lock: asyncio.Lock | None = None) -> None:
    """Create or migrate the KB tables, each version atomically; `write_lock` is that of every other
    writer on `db`. Raises `SchemaError` (one line) when that fails or the KB is newer than this code."""
    await migrate(SQLiteTarget(db, MetaVersion("kb_meta"), write_lock), KB)
