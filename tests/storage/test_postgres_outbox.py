"""The outbox with two instances on one Postgres: a reply a stopped instance left pending is
delivered once, by whichever instance leads the background jobs (bot/background.py)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import asyncpg
import pytest

from bot.app import running_app
from bot.background import JOBS, run_background
from bot.events import ThreadKey
from bot.storage.postgres import PostgresStore
from bot.storage.postgres.locks import LEADER, advisory_key
from bot.storage.store import MessageStatus, Role
from tests.conftest import ConfigFactory
from tests.fakes.slack_server import TEAM, FakeSlack
from tests.helpers import BotFactory, delivered_replies, left_unanswered, until
from tests.postgres import fresh_database

DM = "D0ADA"


async def test_a_reply_left_pending_is_delivered_once_by_two_instances(
    start_bot: BotFactory, make_config: ConfigFactory, fake_slack: FakeSlack
) -> None:
    key = ThreadKey("slack", TEAM, DM, DM)
    async with fresh_database() as url:
        toml = f'[database]\nurl = "{url}"\n'
        async with running_app(make_config(toml)) as stopped:  # stopped after storing the answer
            inbound = await left_unanswered(stopped.store, key, "D0ADA:700.1", "invoices?", datetime.now(UTC))
            await stopped.store.record_reply(
                inbound, Role.ASSISTANT, "Open Billing.", 9, None, settles=MessageStatus.ANSWERED
            )
        one, two = await start_bot(toml), await start_bot(toml)
        stop = asyncio.Event()
        began = datetime.now(UTC)
        jobs = [asyncio.create_task(run_background(b.app, began, stop, retry_s=0.05)) for b in (one, two)]
        try:
            [reply] = await delivered_replies(one.app, key)
            await asyncio.sleep(0.5)  # the other instance asks for the jobs again meanwhile
        finally:
            stop.set()
            await asyncio.gather(*jobs)
        assert [m.text for m in fake_slack.thread(DM, None)] == ["Open Billing."]  # posted once
        assert len(fake_slack.called("chat.postMessage")) == 1
        assert reply.status is MessageStatus.DELIVERED


async def test_a_leader_that_loses_its_lock_stops_the_jobs_and_asks_again(
    make_config: ConfigFactory, caplog: pytest.LogCaptureFixture
) -> None:
    async with fresh_database() as url, running_app(make_config(f'[database]\nurl = "{url}"\n')) as app:
        assert isinstance(app.store, PostgresStore)
        key = advisory_key(LEADER + JOBS)
        holder = (
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
            f" AND classid::bigint = {(key >> 32) & 0xFFFFFFFF} AND objid::bigint = {key & 0xFFFFFFFF}"
        )
        admin = await asyncpg.connect(url)
        stop = asyncio.Event()
        jobs = asyncio.create_task(run_background(app, datetime.now(UTC), stop, retry_s=0.05))
        try:
            first = await until(lambda: admin.fetchval(holder), "the jobs' lock")
            await admin.fetchval("SELECT pg_terminate_backend($1)", first)
            again = await until(
                lambda: admin.fetchval(f"SELECT pid FROM ({holder}) h WHERE pid <> {first}"),
                "the jobs' lock taken again",
            )
            assert again != first
            said = [r.message for r in caplog.records]
            assert any("stopped the background jobs; asking for them again" in m for m in said)
        finally:
            stop.set()
            await jobs
            await admin.close()
