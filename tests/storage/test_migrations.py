"""The migration runner on real SQLite files: old databases accepted, migrations atomic, one-line errors."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import aiosqlite
import pytest

from bot.events import ThreadKey
from bot.kb import KnowledgeBase
from bot.kb.schema import KB, SchemaError, ensure_schema
from bot.kb.settings import KBSettings
from bot.storage.migrations import Migration, MigrationError, MigrationSet, migrate
from bot.storage.sqlite import SQLiteStore
from bot.storage.sqlite.migrate import MetaVersion, SQLiteTarget, UserVersion, VersionSlot
from bot.storage.sqlite.schema import STORE

OLD_SCHEMA = Path(__file__).with_name("schema_fca6604.sql")  # written by the code before this runner


def schema_of(path: Path) -> set[tuple[str, str, str]]:
    """Every table, index and virtual table of a file, with its SQL with whitespace collapsed."""
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL").fetchall()
    conn.close()
    return {(kind, name, " ".join(sql.split())) for kind, name, sql in rows}


def versions_of(path: Path) -> tuple[int, str | None]:
    """(the store's PRAGMA user_version, the KB's kb_meta.schema_version)."""
    conn = sqlite3.connect(path)
    try:
        user_version = conn.execute("PRAGMA user_version").fetchone()[0]
        try:
            row = conn.execute("SELECT value FROM kb_meta WHERE key = 'schema_version'").fetchone()
        except sqlite3.OperationalError:
            row = None
        return int(user_version), row[0] if row else None
    finally:
        conn.close()


def old_database(path: Path) -> Path:
    """A database as the previous code left it: store at version 5, KB at 2, with one conversation."""
    conn = sqlite3.connect(path)
    conn.executescript(OLD_SCHEMA.read_text())
    conn.execute(
        "INSERT INTO conversations (platform, workspace, channel, thread, created_at, updated_at)"
        " VALUES ('console', '', 'console', 'old', '2026-01-01T00:00:00+00:00', '2026-01-01T00:00:00+00:00')"
    )
    conn.commit()
    conn.close()
    return path


async def open_app_schema(path: Path) -> None:
    """What the app does on start: open the store, then set up the KB on its connection."""
    store = SQLiteStore(path)
    await store.open()
    try:
        await KnowledgeBase(store.db, KBSettings(), write_lock=store.write_lock).setup()
    finally:
        await store.close()


async def test_a_new_database_at_version_5_has_the_schema_the_previous_code_wrote(tmp_path: Path) -> None:
    async with aiosqlite.connect(tmp_path / "new.db", isolation_level=None) as db:
        await migrate(SQLiteTarget(db, UserVersion()), MigrationSet("store", STORE.migrations[:5]))
        await migrate(SQLiteTarget(db, MetaVersion("kb_meta")), MigrationSet("kb", KB.migrations[:2]))
    old = old_database(tmp_path / "old.db")
    assert schema_of(tmp_path / "new.db") == schema_of(old)
    assert versions_of(tmp_path / "new.db") == (5, "2")


async def test_a_database_of_the_previous_code_is_upgraded_to_what_a_new_one_gets(
    tmp_path: Path,
) -> None:
    path = old_database(tmp_path / "old.db")
    await open_app_schema(path)  # migrations 1–5 are not run again: their tables exist
    await open_app_schema(tmp_path / "fresh.db")
    assert schema_of(path) == schema_of(tmp_path / "fresh.db")
    assert versions_of(path) == (STORE.latest, str(KB.latest)) == (STORE.latest, "3")
    store = SQLiteStore(path)
    await store.open()
    try:
        conv = await store.find_conversation(ThreadKey("console", "", "console", "old"))
        assert conv is not None and conv.state == "bot"
    finally:
        await store.close()


async def test_an_older_store_is_upgraded_to_the_latest_version(tmp_path: Path) -> None:
    path = tmp_path / "v3.db"
    async with aiosqlite.connect(path, isolation_level=None) as db:
        first_three = MigrationSet("store", STORE.migrations[:3])
        assert await migrate(SQLiteTarget(db, UserVersion()), first_three) == 3
    assert versions_of(path)[0] == 3
    await open_app_schema(path)
    await open_app_schema(tmp_path / "fresh.db")
    assert versions_of(path) == (STORE.latest, str(KB.latest)) == (STORE.latest, "3")
    assert schema_of(path) == schema_of(tmp_path / "fresh.db")


def failing_set(name: str = "test") -> MigrationSet:
    """Version 1 works; version 2's first statement works and its second fails."""
    return MigrationSet(
        name,
        (
            Migration(1, ("CREATE TABLE items (id INTEGER PRIMARY KEY)",)),
            Migration(
                2,
                (
                    "ALTER TABLE items ADD COLUMN label TEXT",
                    "CREATE INDEX items_by_missing ON items (no_such_column)",
                ),
            ),
        ),
    )


def columns(path: Path, table: str) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
    finally:
        conn.close()


@pytest.mark.parametrize("slot", [UserVersion(), MetaVersion("test_meta")], ids=["user_version", "meta"])
@pytest.mark.parametrize("autocommit", [True, False], ids=["autocommit", "implicit"])
async def test_a_migration_failing_midway_leaves_the_previous_version_and_says_so_in_one_line(
    tmp_path: Path, slot: VersionSlot, autocommit: bool
) -> None:
    path = tmp_path / "fail.db"
    async with aiosqlite.connect(path, isolation_level=None if autocommit else "") as db:
        target = SQLiteTarget(db, slot)
        assert await migrate(target, MigrationSet("test", failing_set().migrations[:1])) == 1
        with pytest.raises(MigrationError) as failed:
            await migrate(target, failing_set())
        assert not db.in_transaction
        assert await target.version("test") == 1
    message = str(failed.value)
    assert "\n" not in message
    assert f"database {path}: test schema migration to version 2 failed" in message
    assert "no such column: no_such_column" in message
    assert message.endswith("the schema stays at version 1")
    assert columns(path, "items") == ["id"]  # the first statement of version 2 was rolled back
    assert schema_of(path) == {("table", "items", "CREATE TABLE items (id INTEGER PRIMARY KEY)")} | (
        {("table", "test_meta", "CREATE TABLE test_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")}
        if isinstance(slot, MetaVersion)
        else set()
    )


async def test_a_failed_kb_migration_can_be_retried_once_the_cause_is_gone(tmp_path: Path) -> None:
    """The KB used to run one statement at a time: a failure in version 2 left its `digest` column
    behind, and every later start failed with "duplicate column name: digest"."""
    path = tmp_path / "kb.db"
    async with aiosqlite.connect(path, isolation_level=None) as db:
        await migrate(SQLiteTarget(db, MetaVersion("kb_meta")), MigrationSet("kb", KB.migrations[:1]))
        await db.execute("CREATE TABLE kb_chunks_digest (x)")  # in the way of version 2's index
        with pytest.raises(SchemaError, match=r"kb schema migration to version 2 failed .*kb_chunks_digest"):
            await ensure_schema(db)
        assert "digest" not in columns(path, "kb_chunks")
        await db.execute("DROP TABLE kb_chunks_digest")
        await ensure_schema(db)
    assert versions_of(path)[1] == str(KB.latest)
    assert "digest" in columns(path, "kb_chunks")


async def test_a_store_newer_than_this_code_is_refused_in_one_line_and_left_alone(tmp_path: Path) -> None:
    path = old_database(tmp_path / "newer.db")
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 99")
    conn.close()
    before = schema_of(path)
    store = SQLiteStore(path)
    with pytest.raises(MigrationError) as refused:
        await store.open()
    assert str(refused.value) == (
        f"database {path}: store schema version 99 is newer than this supportbot supports ({STORE.latest});"
        " upgrade supportbot"
    )
    assert schema_of(path) == before and versions_of(path) == (99, "2")
    with pytest.raises(RuntimeError, match="not open"):
        _ = store.db  # closed again


async def test_a_kb_newer_than_this_code_is_refused_in_one_line(tmp_path: Path) -> None:
    path = old_database(tmp_path / "newer-kb.db")
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE kb_meta SET value = '7' WHERE key = 'schema_version'")
    conn.close()
    store = SQLiteStore(path)
    await store.open()
    try:
        with pytest.raises(SchemaError, match=r"^database .*: kb schema version 7 is newer than .* \(3\);"):
            await KnowledgeBase(store.db, KBSettings(), write_lock=store.write_lock).setup()
    finally:
        await store.close()


async def test_two_processes_opening_a_new_database_at_once_migrate_it_once(tmp_path: Path) -> None:
    path = tmp_path / "race.db"
    stores = [SQLiteStore(path) for _ in range(8)]
    await asyncio.gather(*(s.open() for s in stores))  # separate connections, each in its own thread
    await asyncio.gather(*(s.close() for s in stores))
    assert versions_of(path)[0] == STORE.latest


def test_migration_sets_are_numbered_from_one_without_gaps() -> None:
    with pytest.raises(ValueError, match="numbered 1, 2, 3"):
        MigrationSet("bad", (Migration(1, ()), Migration(3, ())))
