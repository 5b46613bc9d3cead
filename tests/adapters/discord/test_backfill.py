"""Discord backfill: what users wrote while the bot was offline is read back on the next gateway
session (channel history after the last stored message) and answered once, through the live path."""

from __future__ import annotations

import asyncio
import contextlib

from adapters.discord.adapter import DiscordAdapter
from bot.app import running_app
from bot.settings import LoadedConfig
from tests.adapters.discord.test_adapter import DM, ask_dm, dm_key, finished, serving
from tests.conftest import ConfigFactory
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI
from tests.helpers import delivered_replies


async def answered_then_away(fake: FakeDiscord, config: LoadedConfig) -> None:
    """A first DM answered, then the bot down while its writer writes "while away"."""
    async with serving(config):
        await ask_dm(fake, "first question", 1)
    fake.wrote_while_away(fake.dm_message("while away", channel_id=DM))


def answers(fake: FakeDiscord) -> list[str]:
    return [m["content"] for m in fake.sent_to(DM) if m["components"]]


async def test_dms_written_while_the_bot_was_down_are_answered_once_after_the_restart(
    make_config: ConfigFactory, fake_openai: FakeOpenAI, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    config = make_config()
    first = fake.dm_message("first question", channel_id=DM)
    async with serving(config):
        await fake.dispatch("MESSAGE_CREATE", first)
        await fake.wait_for(lambda: finished(fake, DM, 1), what="the first answer")
    # The bot is down: two DMs arrive, and no gateway will ever replay them.
    away = [fake.wrote_while_away(fake.dm_message(f"while away {i}", channel_id=DM)) for i in (1, 2)]
    async with serving(config):
        await fake.wait_for(lambda: finished(fake, DM, 3), what="both DMs answered")
        # A late gateway delivery of one of them (or a second session's backfill) answers nothing twice.
        await fake.dispatch("MESSAGE_CREATE", away[0])
        await ask_dm(fake, "and now?", 4)
    texts = answers(fake)
    assert texts[:3] == [
        "Echo (2 messages): first question",
        "Echo (4 messages): while away 1",
        "Echo (6 messages): while away 2",
    ]
    assert len(texts) == 4 and texts[3].endswith("and now?")
    asked = [r["messages"][-1]["content"] for r in fake_openai.requests]
    assert asked == ["first question", "while away 1", "while away 2", "and now?"]
    reads = [
        call.query["after"] for call in fake.find("GET", rf"/channels/{DM}/messages") if "after" in call.query
    ]
    assert reads == [first["id"]]  # after the last one stored


async def test_a_mention_in_the_bots_thread_while_it_was_down_is_answered_after_the_restart(
    make_config: ConfigFactory, fake_openai: FakeOpenAI, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    config = make_config()
    question = fake.guild_message("how do I export?")
    thread = int(question["id"])  # the thread the answer starts shares the question's id
    async with serving(config):
        await fake.dispatch("MESSAGE_CREATE", question)
        await fake.wait_for(lambda: finished(fake, thread, 1), what="the answer in its thread")
    fake.wrote_while_away(fake.guild_message("and as CSV?", channel_id=thread))
    fake.wrote_while_away(fake.guild_message("not for the bot", channel_id=thread, mention=False))
    async with serving(config):
        await fake.wait_for(lambda: finished(fake, thread, 2), what="the follow-up answered")
        await fake.wait_for(lambda: len(fake_openai.requests) >= 2, what="the model asked")
    answered = [m["content"] for m in fake.sent_to(thread) if m["components"]]
    assert len(answered) == 2 and answered[1].endswith("and as CSV?")
    assert [r["messages"][-1]["content"] for r in fake_openai.requests] == ["how do I export?", "and as CSV?"]


async def test_a_mention_in_the_channel_while_the_bot_was_down_is_answered_in_its_thread_after_the_restart(
    make_config: ConfigFactory, fake_openai: FakeOpenAI, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    config = make_config()
    # Older than the last message stored under the channel: never read back.
    fake.wrote_while_away(fake.guild_message("from long ago", author_id=903, name="Ola"))
    first = fake.guild_message("how do I export?")
    async with serving(config):
        await fake.dispatch("MESSAGE_CREATE", first)
        await fake.wait_for(
            lambda: finished(fake, int(first["id"]), 1), what="the first answer in its thread"
        )
    # The bot is down: two conversations begin in the channel, beside a message not for the bot.
    question = fake.wrote_while_away(fake.guild_message("where are my invoices?", author_id=902, name="Lin"))
    fake.wrote_while_away(fake.guild_message("lunch, anyone?", author_id=904, mention=False))
    other = fake.wrote_while_away(fake.guild_message("can I pay by card?", author_id=905, name="Mo"))
    fake_openai.meet = 2  # both are stored before either is answered, then answered side by side
    async with serving(config):
        await fake.wait_for(
            lambda: finished(fake, int(question["id"])) and finished(fake, int(other["id"])),
            what="both new mentions answered in their threads",
        )
        # A late gateway delivery of one answers nothing twice.
        await fake.dispatch("MESSAGE_CREATE", question)
        await fake.dispatch(
            "MESSAGE_CREATE", fake.guild_message("and the receipts?", author_id=902, name="Lin")
        )
        await fake.wait_for(lambda: len(fake_openai.requests) == 4, what="the next mention answered")
    asked = [r["messages"][-1]["content"] for r in fake_openai.requests]
    assert asked[0] == "how do I export?" and asked[3] == "and the receipts?"
    assert sorted(asked[1:3]) == ["can I pay by card?", "where are my invoices?"]
    assert len([m for m in fake.sent_to(int(question["id"])) if m["components"]]) == 1
    reads = fake.find("GET", rf"/channels/{fake.channel_id}/messages")
    assert [r.query["after"] for r in reads] == [first["id"]]  # after the last one stored under it


async def test_a_resumed_session_reads_nothing_back_and_a_new_session_does(
    make_config: ConfigFactory, fake_openai: FakeOpenAI, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    first = fake.dm_message("first question", channel_id=DM)
    async with serving(make_config()):
        await fake.dispatch("MESSAGE_CREATE", first)
        await fake.wait_for(lambda: finished(fake, DM, 1), what="the first answer")
        reads = len(fake.find("GET", rf"/channels/{DM}/messages"))
        fake.wrote_while_away(fake.dm_message("while the connection was down", channel_id=DM))

        # A RESUME: Discord replays what the session missed itself, so nothing is read back.
        await fake.disconnect_all(4000, "Unknown error.")
        await fake.wait_for(lambda: fake.resumes == 1, within=20, what="the RESUME")
        await fake.wait_connected()
        await asyncio.sleep(0.3)  # time for a read-back, if one were coming
        assert len(fake.find("GET", rf"/channels/{DM}/messages")) == reads
        assert answers(fake) == ["Echo (2 messages): first question"]

        # A new session (the resume refused): nothing is replayed, so the bot reads back.
        fake.resumable = False
        identified = len(fake.identifies)
        await fake.disconnect_all(4000, "Unknown error.")
        await fake.wait_for(lambda: finished(fake, DM, 2), within=20, what="the missed DM answered")
        assert len(fake.identifies) == identified + 1
    assert answers(fake)[1] == "Echo (4 messages): while the connection was down"


async def test_a_message_answered_live_before_the_read_back_does_not_hide_one_written_while_away(
    make_config: ConfigFactory, fake_openai: FakeOpenAI, fake_discord: FakeDiscord
) -> None:
    fake, config = fake_discord, make_config()
    await answered_then_away(fake, config)
    async with running_app(config) as app:
        # Discord waits for the servers before READY is complete (here 1 s), and messages of the
        # new session arrive meanwhile: one is stored before the read-back looks for the latest.
        adapter = DiscordAdapter(app.service, app.config, guild_ready_timeout_s=1.0)
        starting = asyncio.create_task(adapter.start())
        try:
            await fake.wait_connected()
            await fake.user_writes(fake.dm_message("written just after the restart", channel_id=DM))
            await starting
            await fake.wait_for(lambda: finished(fake, DM, 3), what="both later DMs answered")
        finally:
            await adapter.close()
    asked = sorted(r["messages"][-1]["content"] for r in fake_openai.requests)
    assert asked == ["first question", "while away", "written just after the restart"]


async def test_a_dm_begun_while_the_bot_was_down_is_answered_when_its_writer_writes_again(
    make_config: ConfigFactory, fake_openai: FakeOpenAI, fake_discord: FakeDiscord
) -> None:
    """Discord lists no DM channels to a bot, so the backfill can't find a DM that began while it
    was down; the DM's next message, live, brings it: what was written first is answered first."""
    fake = fake_discord
    config = make_config()
    newcomer = DM + 77
    # Answered before (the conversation since forgotten, say): the bot's answer closes it.
    fake.wrote_while_away(fake.dm_message("from long ago", channel_id=newcomer, author_id=901))
    fake.bot_posted(newcomer, "Echo: from long ago")
    async with serving(config):
        await ask_dm(fake, "first question", 1)  # the conversation the backfill will know
    fake.wrote_while_away(fake.dm_message("hello? is anyone there", channel_id=newcomer, author_id=901))
    async with serving(config):
        await fake.user_writes(fake.dm_message("still waiting", channel_id=newcomer, author_id=901))
        await fake.wait_for(
            lambda: len([m for m in fake.sent_to(newcomer) if m["components"]]) == 2, what="both DMs answered"
        )
        await fake.user_writes(fake.dm_message("thanks", channel_id=newcomer, author_id=901))
        await fake.wait_for(lambda: len(fake_openai.requests) == 4, what="the third DM answered")
    asked = [r["messages"][-1]["content"] for r in fake_openai.requests]
    assert asked == ["first question", "hello? is anyone there", "still waiting", "thanks"]
    assert len(fake.find("GET", rf"/channels/{newcomer}/messages")) == 1  # read back once


async def test_a_dm_begun_two_restarts_ago_is_answered_when_its_writer_writes_again(
    make_config: ConfigFactory, fake_openai: FakeOpenAI, fake_discord: FakeDiscord
) -> None:
    """What the store holds moves on between the outage and the writer's next message (another
    session answered others): the DM is read back to the bot's last message in it, not to a mark."""
    fake = fake_discord
    config = make_config()
    newcomer = DM + 78
    async with serving(config):
        await ask_dm(fake, "first question", 1)
    fake.wrote_while_away(fake.dm_message("hello? is anyone there", channel_id=newcomer, author_id=902))
    async with serving(config):
        await ask_dm(fake, "second question", 2)  # stored after the newcomer's first message
    async with serving(config):
        await fake.user_writes(fake.dm_message("still waiting", channel_id=newcomer, author_id=902))
        await fake.wait_for(lambda: finished(fake, newcomer, 2), what="both of the newcomer's DMs answered")
    asked = [r["messages"][-1]["content"] for r in fake_openai.requests]
    assert asked == ["first question", "second question", "hello? is anyone there", "still waiting"]


async def test_what_a_session_stopped_before_its_read_back_missed_is_read_by_the_next(
    make_config: ConfigFactory, fake_openai: FakeOpenAI, fake_discord: FakeDiscord
) -> None:
    """The second session stores a live message, then stops before READY (so before its
    read-back): the third reads from the second's start, not from after that live message."""
    fake, config = fake_discord, make_config()
    await answered_then_away(fake, config)
    async with running_app(config) as app:
        adapter = DiscordAdapter(app.service, app.config, guild_ready_timeout_s=30.0)  # READY late
        starting = asyncio.create_task(adapter.start())
        try:
            await fake.wait_connected()
            await fake.user_writes(fake.dm_message("written just after the restart", channel_id=DM))
            await fake.wait_for(lambda: finished(fake, DM, 2), what="the live DM answered")
            await delivered_replies(app, dm_key(), 2)
        finally:
            starting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await starting
            await adapter.close()
    async with serving(config):
        await fake.wait_for(lambda: len(fake_openai.requests) == 3, what="the missed DM answered")
    asked = sorted(r["messages"][-1]["content"] for r in fake_openai.requests)
    assert asked == ["first question", "while away", "written just after the restart"]


async def test_a_read_back_that_discord_failed_stays_due_for_the_next_session(
    make_config: ConfigFactory, fake_openai: FakeOpenAI, fake_discord: FakeDiscord
) -> None:
    """Discord fails the second session's read of the DM (a 503, which may pass); that session then
    stores a live message. The third reads from the second's start, so the message is not lost."""
    fake, config = fake_discord, make_config()
    await answered_then_away(fake, config)
    history = rf"/channels/{DM}/messages"
    fake.fail_next("GET", history, 503)
    reads = len(fake.find("GET", history))
    async with serving(config):
        await fake.wait_for(lambda: len(fake.find("GET", history)) > reads, what="the failed read-back")
        await ask_dm(fake, "and now?", 2)
    async with serving(config):
        await fake.wait_for(lambda: len(fake_openai.requests) == 3, what="the missed DM answered")
    asked = [r["messages"][-1]["content"] for r in fake_openai.requests]
    assert asked == ["first question", "and now?", "while away"]
