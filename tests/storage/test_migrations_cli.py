"""`supportbot` on a database it cannot use: one line on stderr and exit code 1, never a traceback."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bot.storage.sqlite.schema import STORE
from tests.cli.test_cli import cli_env, run_cli
from tests.storage.test_migrations import old_database


def newer(path: Path, *, store: int | None = None, kb: int | None = None) -> Path:
    old_database(path)
    with sqlite3.connect(path) as conn:
        if store is not None:
            conn.execute(f"PRAGMA user_version = {store}")
        if kb is not None:
            conn.execute("UPDATE kb_meta SET value = ? WHERE key = 'schema_version'", (str(kb),))
    conn.close()
    return path


@pytest.mark.parametrize("command", [["stats"], ["history", "--thread", "t1"], ["kb", "list"]])
async def test_a_newer_store_is_refused_in_one_line(tmp_path: Path, command: list[str]) -> None:
    env = cli_env(tmp_path, None)
    newer(Path(env["SUPPORTBOT_DATABASE__PATH"]), store=99)
    code, out, err = await run_cli(*command, env=env)
    assert (code, out) == (1, "")
    assert err == (
        f"supportbot: database {env['SUPPORTBOT_DATABASE__PATH']}: store schema version 99 is newer"
        f" than this supportbot supports ({STORE.latest}); upgrade supportbot\n"
    )


async def test_a_newer_knowledge_base_is_refused_in_one_line_when_chatting(tmp_path: Path) -> None:
    env = cli_env(tmp_path, None)
    env["SUPPORTBOT_KB__ENABLED"] = "true"
    newer(Path(env["SUPPORTBOT_DATABASE__PATH"]), kb=7)
    code, out, err = await run_cli("chat", stdin="hello\n", env=env)
    assert (code, out) == (1, "")
    assert err.count("\n") == 1 and err.startswith("supportbot: database ")
    assert "kb schema version 7 is newer than this supportbot supports (3); upgrade supportbot" in err


async def test_kb_commands_report_a_newer_knowledge_base_in_one_line(tmp_path: Path) -> None:
    env = cli_env(tmp_path, None)
    newer(Path(env["SUPPORTBOT_DATABASE__PATH"]), kb=7)
    code, out, err = await run_cli("kb", "list", env=env)
    assert (code, out) == (1, "")
    assert err.count("\n") == 1 and err.startswith("error: database ") and "kb schema version 7" in err
