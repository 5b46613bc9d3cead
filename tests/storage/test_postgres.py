"""The Postgres store's own promises: migrations applied once under a lock when instances start
together, a clear line when the database can't be reached, and the app choosing it from database.url."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from bot.storage.migrations import MigrationError
from bot.storage.postgres import PostgresStore
from bot.storage.postgres.schema import STORE
from bot.storage.store import StoreOpenError
from tests.cli.test_cli import cli_env, run_cli
from tests.postgres import fresh_database


async def test_instances_starting_together_migrate_the_schema_once() -> None:
    async with fresh_database() as url:
        stores = [PostgresStore(url) for _ in range(4)]
        try:
            await asyncio.gather(*(store.open() for store in stores))  # none fails halfway
        finally:
            await asyncio.gather(*(store.close() for store in stores))
        conn = await asyncpg.connect(url)
        try:
            versions = await conn.fetch("SELECT name, version FROM schema_versions")
        finally:
            await conn.close()
    assert [(r["name"], r["version"]) for r in versions] == [("store", STORE.latest)]


async def test_a_schema_newer_than_this_code_is_refused_in_one_line() -> None:
    async with fresh_database() as url:
        store = PostgresStore(url)
        await store.open()
        await store.pool.execute("UPDATE schema_versions SET version = version + 1")
        await store.close()
        with pytest.raises(MigrationError, match=r"newer than this supportbot supports"):
            await PostgresStore(url).open()


async def test_an_unreachable_database_is_one_line_without_the_password() -> None:
    async with fresh_database() as url:
        missing = url.replace("postgresql://postgres@", "postgresql://postgres:hunter2@") + "_missing"
        with pytest.raises(StoreOpenError) as raised:
            await PostgresStore(missing).open()
    message = str(raised.value)
    assert "the database does not exist" in message and "SUPPORTBOT_DATABASE__URL" in message
    assert "hunter2" not in message and "\n" not in message


async def test_database_url_puts_the_conversations_in_postgres(tmp_path: Path) -> None:
    async with fresh_database() as url:
        env = cli_env(tmp_path, None) | {"SUPPORTBOT_DATABASE__URL": url}
        code, out, err = await run_cli(
            "chat", "--thread", "pg", stdin="How do I reset my password?\n", env=env
        )
        assert code == 0, err
        assert "Forgot password" in out  # from the sample help center, indexed in the local file
        conn = await asyncpg.connect(url)
        try:
            texts = [r["text"] for r in await conn.fetch("SELECT text FROM messages ORDER BY id")]
        finally:
            await conn.close()
        assert texts[0] == "How do I reset my password?" and len(texts) == 2
        code, out, _ = await run_cli("history", "--thread", "pg", env=env)
        assert code == 0 and "How do I reset my password?" in out
    # The SQLite file at database.path holds the knowledge base's index, and no conversation.
    code, out, _ = await run_cli("history", "--thread", "pg", env=cli_env(tmp_path, None))
    assert "How do I reset my password?" not in out
