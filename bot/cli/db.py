"""`supportbot db copy` (an SQLite database into Postgres) and `db backup` (an online SQLite copy)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

import click

from bot.cli.root import State, fail, global_options

if TYPE_CHECKING:
    from bot.settings import LoadedConfig


@click.group("db", help="move or back up the bot's database")
def db_commands() -> None:
    pass


@db_commands.command(help="copy the SQLite database (database.path) into an empty Postgres database")
@click.option("--to", "url", required=True, metavar="URL", help="postgresql://user@host:5432/dbname")
@click.option(
    "--from",
    "source",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="the SQLite file (default: database.path)",
)
@global_options
@click.pass_obj
def copy(state: State, url: str, source: Path | None) -> int:
    if not url.startswith(("postgresql://", "postgres://")):
        fail("--to must be a postgresql:// URL")
    return state.run(lambda config: asyncio.run(_copy(config, url, source)))


async def _copy(config: LoadedConfig, url: str, source: Path | None) -> int:
    from bot.storage.postgres import PostgresStore
    from bot.storage.postgres.connection import safe_url
    from bot.storage.postgres.copy import CopyError, copy_sqlite_to_postgres
    from bot.storage.sqlite import SQLiteStore

    path = source or config.settings.database.path
    if not path.is_file():
        fail(f"no SQLite database at {path} (set --from or database.path)", 1)
    sqlite_store, target = SQLiteStore(path), PostgresStore(url)
    await sqlite_store.open()
    try:
        await target.open()
        try:
            copied = await copy_sqlite_to_postgres(sqlite_store, target)
        except CopyError as exc:
            fail(str(exc), 1)
        finally:
            await target.close()
    finally:
        await sqlite_store.close()
    counts = ", ".join(f"{n} {table}" for table, n in copied.items())
    print(f"copied {counts} from {path} to {safe_url(url)}")
    print(f"now set SUPPORTBOT_DATABASE__URL (database.url) to it; {path} keeps the knowledge-base index")
    return 0


@db_commands.command(help="write an online backup of the SQLite database to FILE (Postgres: use pg_dump)")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@global_options
@click.pass_obj
def backup(state: State, file: Path) -> int:
    return state.run(lambda config: _backup(config, file))


def _backup(config: LoadedConfig, file: Path) -> int:
    database = config.settings.database
    if database.postgres:
        from bot.storage.postgres.connection import safe_url

        fail(
            f"the conversations are in Postgres: back them up with pg_dump, e.g."
            f" pg_dump --format=custom --file {file} '{safe_url(database.url)}'",
            1,
        )
    if not database.path.is_file():
        fail(f"no SQLite database at {database.path}", 1)
    if file.exists():
        fail(f"{file} already exists; choose a new file", 1)
    try:
        pages = _online_backup(database.path, file)
    except sqlite3.Error as exc:
        file.unlink(missing_ok=True)
        fail(f"backup of {database.path} failed ({exc})", 1)
    print(f"backed up {database.path} to {file} ({pages} pages)")
    return 0


def _online_backup(source: Path, target: Path) -> int:
    """SQLite's backup API: a consistent copy while the bot keeps writing (WAL readers don't block)."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
            return int(dst.execute("PRAGMA page_count").fetchone()[0])
        finally:
            dst.close()
    finally:
        src.close()
