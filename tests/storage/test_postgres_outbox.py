"""The outbox with two instances on one Postgres: a reply a stopped instance left pending is
delivered once, by whichever instance leads the background jobs (bot/background.py)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from bot.app import running_app
from bot.background import run_background
from bot.events import ThreadKey
from bot.storage.store import MessageStatus, Role
from tests.conftest import ConfigFactory
from tests.fakes.slack_server import TEAM, FakeSlack
from tests.helpers import BotFactory, delivered_replies, left_unanswered
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
