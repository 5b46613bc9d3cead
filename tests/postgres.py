"""A real Postgres for tests: a fresh database per test on the server at 127.0.0.1:5432, dropped after.

`TEST_POSTGRES_URL` names another server (a URL to a database the user may CREATE DATABASE
from). With no server reachable the test is skipped with one line; with `CI=true` it fails
instead, since CI always starts one. (Not a SUPPORTBOT_ name: the bot refuses any SUPPORTBOT_*
variable that names no setting, and the tests start it with their own environment.)
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

SERVER_ENV = "TEST_POSTGRES_URL"
DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


def server_url() -> str:
    return os.environ.get(SERVER_ENV, DEFAULT_SERVER)


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


async def _admin() -> asyncpg.Connection:
    """A connection to the server's maintenance database; skip (or fail on CI) when there is none."""
    try:
        return await asyncpg.connect(server_url(), timeout=5)
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        why = f"no Postgres at {server_url()} ({type(exc).__name__}); set {SERVER_ENV} to run this"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true requires Postgres: {why}")
        pytest.skip(why)


@asynccontextmanager
async def fresh_database() -> AsyncIterator[str]:
    """The URL of a new, empty database, dropped (connections and all) when the block ends."""
    admin = await _admin()
    name = f"supportbot_test_{secrets.token_hex(6)}"
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield _with_database(server_url(), name)
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()
