"""Guards in the Discord path that no other test would miss: an answer in flight when the adapter closes,
and a message in a thread the client has never cached.

The real discord.py client against the fake gateway and REST API, SQLite and the fake OpenAI server.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from adapters.discord.adapter import DiscordAdapter
from bot.app import App, running_app
from bot.settings import LoadedConfig
from tests.adapters.discord.test_adapter import DM, finished
from tests.conftest import ConfigFactory
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI


@asynccontextmanager
async def adapter_on(config: LoadedConfig) -> AsyncIterator[tuple[App, DiscordAdapter]]:
    async with running_app(config) as app:
        adapter = DiscordAdapter(app.service, app.config, guild_ready_timeout_s=0.05)
        await adapter.start()
        try:
            yield app, adapter
        finally:
            await adapter.close()


async def test_an_answer_in_flight_when_the_adapter_closes_is_still_delivered(
    make_config: ConfigFactory, fake_openai: FakeOpenAI, fake_discord: FakeDiscord
) -> None:
    fake_openai.latency_s = 0.5  # the model is still thinking when the adapter is told to stop
    async with adapter_on(make_config()) as (_, adapter):
        await fake_discord.dispatch(
            "MESSAGE_CREATE", fake_discord.dm_message("are you open on sundays", channel_id=DM)
        )
        await fake_openai.wait_for(lambda: fake_openai.requests, what="the question at the model")
        await adapter.close()
        assert finished(fake_discord, DM)  # the whole answer, with its buttons, before close() returned
        [answer] = fake_discord.sent_to(DM)
        assert answer["content"] == "Echo (2 messages): are you open on sundays"


async def test_a_thread_the_client_never_cached_is_answered_as_a_thread(
    make_config: ConfigFactory, fake_openai: FakeOpenAI, fake_discord: FakeDiscord
) -> None:
    """A thread created while the bot was away reaches discord.py as a bare channel id: the adapter asks
    Discord what it is, so the mention is answered in the thread and later messages there follow on."""
    fake = fake_discord
    thread = fake.uncached_thread()
    async with adapter_on(make_config("[discord]\nmessage_content_intent = true\n")):
        await fake.dispatch("MESSAGE_CREATE", fake.guild_message("my export is stuck", channel_id=thread))
        await fake.wait_for(lambda: finished(fake, thread), what="the answer in the thread")
        await fake.dispatch(
            "MESSAGE_CREATE", fake.guild_message("it is at 90%", channel_id=thread, mention=False)
        )
        await fake.wait_for(lambda: finished(fake, thread, 2), what="the follow-up answered")
    answers = [m["content"] for m in fake.sent_to(thread)]
    assert answers == ["Echo (2 messages): my export is stuck", "Echo (4 messages): it is at 90%"]
    assert fake.find("GET", rf"/channels/{thread}")
    assert not any("message_reference" in m for m in fake.sent_to(thread))  # in the thread, not a reply
