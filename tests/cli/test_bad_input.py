"""Bad input at the command line: a byte that isn't UTF-8 on `supportbot chat`'s stdin is answered, and a
database path SQLite can't use is one line on stderr and exit 2 (never a traceback, never a hang).

Real `supportbot` subprocesses, the fake LLM over HTTP, files in tmp.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli.test_cli import cli_env
from tests.conftest import REPO
from tests.fakes.openai_server import FakeOpenAI

HANG = 30.0  # a command still running after this long has hung


async def supportbot(*args: str, stdin: bytes, env: dict[str, str]) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env=env, cwd=REPO,
    )  # fmt: skip
    try:
        out, err = await asyncio.wait_for(proc.communicate(stdin), timeout=HANG)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise AssertionError(f"supportbot {' '.join(args)} hung") from None
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


@pytest.mark.parametrize(
    "stdin_env",
    [
        {"PYTHONIOENCODING": "utf-8:strict"},  # strict decoding, as with a desktop's en_US.UTF-8 locale
        {"LC_ALL": "C"},  # Python decodes a stray byte as a surrogate escape
    ],
)
async def test_a_byte_that_is_not_utf8_on_stdin_is_replaced_and_answered(
    fake_openai: FakeOpenAI, tmp_path: Path, stdin_env: dict[str, str]
) -> None:
    env = cli_env(tmp_path, fake_openai) | {"SUPPORTBOT_KB__ENABLED": "false"}
    env = {k: v for k, v in env.items() if k not in ("PYTHONIOENCODING", "PYTHONUTF8")} | stdin_env
    code, out, err = await supportbot("chat", "--thread", "t1", stdin=b"caf\xe9 price?\nhello\n", env=env)
    assert (code, err) == (0, "")
    assert out == "Echo (2 messages): caf\ufffd price?\nEcho (4 messages): hello\n"


def not_sqlite(tmp_path: Path) -> Path:
    path = tmp_path / "notes.db"
    path.write_text("these are my notes, not a database\n")
    return path


def unwritable(tmp_path: Path) -> Path:
    """A folder this user can't write in (root writes anywhere except in /proc)."""
    if os.geteuid() == 0:
        return Path("/proc/self/supportbot.db")
    folder = tmp_path / "read-only"
    folder.mkdir(mode=0o555)
    return folder / "bot.db"


def folder_under_a_file(tmp_path: Path) -> Path:
    (tmp_path / "a-file").write_text("")
    return tmp_path / "a-file" / "data" / "bot.db"


def a_folder(tmp_path: Path) -> Path:
    (tmp_path / "data").mkdir()
    return tmp_path / "data"


@pytest.mark.parametrize("command", [("stats",), ("chat", "--thread", "t1")])
@pytest.mark.parametrize(
    ("where", "cause"),
    [
        (not_sqlite, "not an SQLite database"),
        (unwritable, "can't open or create a file there"),
        (folder_under_a_file, "cannot create the folder"),
        (a_folder, "it is a folder"),
    ],
)
async def test_a_database_path_sqlite_cannot_use_is_one_line_and_exit_2(
    tmp_path: Path, command: tuple[str, ...], where: Callable[[Path], Path], cause: str
) -> None:
    path = where(tmp_path)
    env = cli_env(tmp_path, None) | {"SUPPORTBOT_DATABASE__PATH": str(path)}
    code, out, err = await supportbot(*command, stdin=b"hello\n", env=env)
    assert (code, out) == (2, ""), err
    [line] = err.splitlines()
    assert line.startswith("supportbot: ") and str(path.parent) in line and cause in line
    assert "SUPPORTBOT_DATABASE__PATH" in line
