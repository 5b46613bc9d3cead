"""Retention, forgetting and file modes as an operator meets them (purge, `supportbot forget`)."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.events import IncomingMessage, ThreadKey
from bot.storage.retention import purge_once, run_retention
from bot.storage.sqlite import SQLiteStore

KEY = ThreadKey("slack", "T1", "D1", "D1")


async def _stored(path: Path, user: str = "U1") -> SQLiteStore:
    store = SQLiteStore(path)
    await store.open()
    msg = IncomingMessage(
        KEY, f"m-{user}", user, "Ada", "my card is 4111 1111 1111 1111", True, datetime.now(UTC)
    )
    assert await store.record_inbound(msg, 5) is not None
    return store


async def test_the_purge_removes_conversations_past_retention_and_zero_keeps_them(tmp_path: Path) -> None:
    store = await _stored(tmp_path / "r.db")
    later = datetime.now(UTC) + timedelta(days=31)
    try:
        assert await purge_once(store, 0, lambda: later) == 0
        assert await purge_once(store, 40, lambda: later) == 0  # not old enough yet
        assert await purge_once(store, 30, lambda: later) == 1
        assert await store.find_conversation(KEY) is None
        stop = asyncio.Event()
        stop.set()
        await asyncio.wait_for(run_retention(store, 30, stop), 5)  # stops when told
    finally:
        await store.close()


async def test_forget_command_deletes_one_users_data_and_says_what(tmp_path: Path) -> None:
    path = tmp_path / "f.db"
    store = await _stored(path)
    await store.close()
    env = os.environ | {"SUPPORTBOT_DATABASE__PATH": str(path)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "forget", "--platform", "slack", "--user", "U1",
        env=env, cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    assert out.decode().strip() == (
        "forgot slack user U1: 1 message(s), 0 feedback, 0 rating(s), 1 empty conversation(s) removed"
    )
    store = SQLiteStore(path)
    await store.open()
    try:
        assert await store.find_conversation(KEY) is None
    finally:
        await store.close()


async def test_a_new_database_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    store = await _stored(tmp_path / "private.db")
    try:
        for name in ("private.db", "private.db-wal"):
            assert (tmp_path / name).stat().st_mode & 0o777 == 0o600, name
    finally:
        await store.close()
