"""Discord sharding through discord.py's AutoShardedClient and a fake gateway that routes events by
shard as Discord does (a server's to (id >> 22) % count, DMs to shard 0): one process running every
shard, and instances on one Postgres each running their own, shard 0 on exactly one."""

from __future__ import annotations

from contextlib import AsyncExitStack

import asyncpg
import pytest
from pydantic import ValidationError

from adapters.discord.adapter import DiscordAdapter
from bot.app import running_app
from bot.platforms import AdapterStartError
from bot.settings import DiscordSettings
from tests.adapters.discord.test_adapter import DM, ask_dm, finished, serving
from tests.conftest import ConfigFactory
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI
from tests.helpers import until
from tests.postgres import fresh_database

TWO_SHARDS = "[discord]\nshard_count = 2\n"


def test_shard_ids_must_be_shards_of_the_count() -> None:
    with pytest.raises(ValidationError, match=r"needs discord\.shard_count"):
        DiscordSettings(shard_ids=[0])
    with pytest.raises(ValidationError, match="2 is not one of the 2 shards"):
        DiscordSettings(shard_count=2, shard_ids=[0, 2])
    assert DiscordSettings(shard_count=3).shards() == [0, 1, 2]
    assert DiscordSettings(shard_count=4, shard_ids=[3, 1]).shards() == [1, 3]
    assert DiscordSettings().shards() == []


async def test_one_process_runs_every_shard_dms_on_shard_0_and_the_server_on_its_own(
    make_config: ConfigFactory, fake_openai: FakeOpenAI, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    server_shard = fake.shard_of(fake.guild_id, 2)
    assert server_shard == 1  # so the two kinds of event arrive on different connections
    async with serving(make_config(TWO_SHARDS)):
        assert sorted(i["shard"] for i in fake.identifies) == [[0, 2], [1, 2]]
        [answer] = await ask_dm(fake, "where is my invoice?", 1)
        assert answer["content"].endswith("where is my invoice?")
        question = fake.guild_message("how do I export?")
        assert await fake.dispatch("MESSAGE_CREATE", question) == 1  # to shard 1's connection only
        thread = int(question["id"])
        await fake.wait_for(lambda: finished(fake, thread), what="the answer in the server's thread")


async def test_instances_on_one_database_split_the_shards_and_none_takes_a_shard_twice(
    make_config: ConfigFactory, fake_openai: FakeOpenAI, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    async with fresh_database() as url, AsyncExitStack() as stack:
        database = f'[database]\nurl = "{url}"\n'

        async def instance(shard_ids: str | None) -> DiscordAdapter:
            shards = "" if shard_ids is None else TWO_SHARDS + f"shard_ids = {shard_ids}\n"
            config = make_config(database + shards)
            app = await stack.enter_async_context(running_app(config))
            adapter = DiscordAdapter(app.service, app.config, guild_ready_timeout_s=0.05)
            await adapter.start()
            stack.push_async_callback(adapter.close)
            return adapter

        dms = await instance("[0]")
        server = await instance("[1]")
        assert await dms.connected() and await server.connected()
        await ask_dm(fake, "first", 1)
        question = fake.guild_message("how do I export?")
        await fake.dispatch("MESSAGE_CREATE", question)
        await fake.wait_for(lambda: finished(fake, int(question["id"])), what="the server's answer")
        asked = sorted(r["messages"][-1]["content"] for r in fake_openai.requests)
        assert asked == ["first", "how do I export?"]  # each once, by the instance of its shard

        with pytest.raises(AdapterStartError, match="already runs Discord shard 0 of 2"):
            await instance("[0]")
        with pytest.raises(AdapterStartError, match="already runs Discord shards 0, 1 of 2"):
            await instance("[]")  # every shard: 0 and 1 are both taken
        with pytest.raises(AdapterStartError, match="already runs the Discord connection"):
            await instance(None)  # unsharded it would be shard 0 of 1, and receive the DMs too
        await dms.close()  # its shard is free again: a replacement takes it
        replacement = await instance("[0]")
        assert await replacement.connected()
        [*_, answer] = await ask_dm(fake, "second", 2)
        assert answer["content"].endswith("second")
        assert len([m for m in fake.sent_to(DM) if m["components"]]) == 2

        # A database failover drops every connection, the shards' locks with them: an instance that
        # can no longer count on its shards stops saying it is ready (/readyz), so it gets replaced.
        admin = await asyncpg.connect(url)
        try:
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        finally:
            await admin.close()

        async def unready() -> bool:
            return not await replacement.connected() and not await server.connected()

        await until(unready, "the instances to see their shards' locks gone")
