"""The outbox on start: a reply a stopped run left pending is delivered once, into the message that
already shows part of it (Slack: edited by ts; Discord: the nonce finds a part whose id was never noted)."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import pytest

from bot.app import running_app
from bot.conversation.outbox import EXPIRED
from bot.events import ReplyDone, ReplyStatus, ThreadKey
from bot.storage.store import MessageStatus, Role, StoredMessage
from tests.adapters.discord.test_adapter import DM as DISCORD_DM
from tests.adapters.discord.test_adapter import serving
from tests.adapters.slack.test_adapter import USER, answers
from tests.conftest import ConfigFactory
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_server import TEAM, FakeSlack, Message, mention
from tests.helpers import BotFactory, left_unanswered, sqlite_db

SLACK_DM = "D0ADA"
WHOLE = "Open **Billing**, then *Invoices*."


def hour_ago() -> datetime:
    return datetime.now(UTC) - timedelta(hours=1)


async def left_pending(make_config: ConfigFactory, key: ThreadKey) -> tuple[StoredMessage, int]:
    """What a stop left in a thread: its question (the thread's first message) and the whole
    answer pending, none of it shown; the question and the reply's id."""
    async with running_app(make_config()) as earlier:
        inbound = await left_unanswered(
            earlier.store, key, f"{key.channel}:{key.thread}", "invoices?", datetime.now(UTC)
        )
        reply_id = await earlier.store.record_reply(
            inbound, Role.ASSISTANT, WHOLE, 9, None, settles=MessageStatus.ANSWERED
        )
    return inbound, reply_id


async def test_a_pending_reply_is_delivered_once_into_its_half_written_message(
    start_bot: BotFactory, make_config: ConfigFactory, fake_slack: FakeSlack, fake_openai: FakeOpenAI
) -> None:
    key = ThreadKey("slack", TEAM, SLACK_DM, SLACK_DM)
    # What a run killed between storing the answer and delivering it leaves: the question, the part
    # shown so far (its ts noted), the whole answer pending.
    fake_slack.messages["1700000001.000100"] = Message(SLACK_DM, "1700000001.000100", "Open *Billing* …")
    async with running_app(make_config()) as earlier:
        inbound = await left_unanswered(earlier.store, key, "D0ADA:600.1", "invoices?", datetime.now(UTC))
        await earlier.store.note_shown(inbound.id, ["1700000001.000100"])
        reply_id = await earlier.store.record_reply(
            inbound, Role.ASSISTANT, WHOLE, 9, None, settles=MessageStatus.ANSWERED
        )
    bot = await start_bot()
    assert await bot.app.outbox.sweep(hour_ago()) == 1
    assert await bot.app.outbox.sweep(hour_ago()) == 0  # once
    [answer] = fake_slack.thread(SLACK_DM, None)
    assert (answer.ts, answer.text) == ("1700000001.000100", "Open *Billing*, then _Invoices_.")
    assert answer.blocks  # with the buttons a live answer gets
    assert fake_slack.called("chat.postMessage") == [] and fake_openai.requests == []  # not asked again
    conv = await bot.app.store.find_conversation(key)
    assert conv is not None
    stored = next(m for m in await bot.app.store.messages(conv.id, 5) if m.id == reply_id)
    assert (stored.status, stored.platform_message_id) == (MessageStatus.DELIVERED, "1700000001.000100")


async def test_a_slack_message_posted_before_the_kill_but_never_noted_is_taken_into_the_answer(
    start_bot: BotFactory, make_config: ConfigFactory, fake_slack: FakeSlack, fake_openai: FakeOpenAI
) -> None:
    channel, thread = "C0SUPPORT", "700.1"
    key = ThreadKey("slack", TEAM, channel, thread)
    # An earlier answer in the thread (noted), then the question the kill interrupted: its stream
    # was started on Slack, the kill came before its ts was noted.
    fake_slack.messages["1700000001.000100"] = Message(
        channel, "1700000001.000100", "An earlier answer", thread
    )
    async with running_app(make_config()) as earlier:
        first = await left_unanswered(earlier.store, key, f"{channel}:700.1", "hello", datetime.now(UTC))
        await earlier.store.note_shown(first.id, ["1700000001.000100"])
        done = await earlier.store.record_reply(
            first, Role.ASSISTANT, "hi", 1, None, settles=MessageStatus.ANSWERED
        )
        await earlier.store.mark_delivered(done, "1700000001.000100")
        asked = f"{channel}:1700000001.500000"
        inbound = await left_unanswered(earlier.store, key, asked, "invoices?", datetime.now(UTC))
        await earlier.store.record_reply(
            inbound, Role.ASSISTANT, WHOLE, 9, None, settles=MessageStatus.ANSWERED
        )
        # A later question of the thread, answered meanwhile: its answer is the bot's, after ours.
        asked = f"{channel}:1700000002.500000"
        later = await left_unanswered(earlier.store, key, asked, "and?", datetime.now(UTC))
        await earlier.store.note_shown(later.id, ["1700000003.000100"])
        again = await earlier.store.record_reply(
            later, Role.ASSISTANT, "b", 1, None, settles=MessageStatus.ANSWERED
        )
        await earlier.store.mark_delivered(again, "1700000003.000100")
        # And the next one, being answered live at the crash: its answer's ts not noted yet.
        last = f"{channel}:1700000003.500000"
        await left_unanswered(earlier.store, key, last, "and then?", datetime.now(UTC))
    fake_slack.messages["1700000002.000100"] = Message(
        channel, "1700000002.000100", "Open **Bill", thread, streaming=True
    )
    fake_slack.messages["1700000003.000100"] = Message(channel, "1700000003.000100", "A later answer", thread)
    fake_slack.messages["1700000004.000100"] = Message(
        channel, "1700000004.000100", "The last answer", thread
    )
    bot = await start_bot()
    assert await bot.app.outbox.sweep(hour_ago()) == 1
    earlier_answer, answer, later_answer, last_answer = fake_slack.thread(channel, thread)
    assert (last_answer.ts, last_answer.text) == ("1700000004.000100", "The last answer")
    assert (earlier_answer.ts, earlier_answer.text) == ("1700000001.000100", "An earlier answer")  # untouched
    assert (later_answer.ts, later_answer.text) == ("1700000003.000100", "A later answer")
    assert (answer.ts, answer.text) == ("1700000002.000100", "Open *Billing*, then _Invoices_.")
    assert answer.blocks and not answer.streaming
    assert fake_slack.called("chat.postMessage") == [] and fake_openai.requests == []


async def test_a_discord_part_posted_before_the_kill_but_never_noted_is_found_by_its_nonce(
    make_config: ConfigFactory, fake_discord: FakeDiscord, fake_openai: FakeOpenAI
) -> None:
    fake = fake_discord
    key = ThreadKey("discord", "", str(DISCORD_DM), str(DISCORD_DM))
    question_id = str(fake.next_id())
    config = make_config()
    async with running_app(config) as earlier:
        inbound = await left_unanswered(earlier.store, key, question_id, "invoices?", datetime.now(UTC))
        await earlier.store.record_reply(
            inbound, Role.ASSISTANT, WHOLE, 9, None, settles=MessageStatus.ANSWERED
        )
    # The kill came after Discord took the first part and before its id was noted.
    fragment = fake.bot_posted(DISCORD_DM, "Open **Billing**", nonce=f"{question_id}.0")
    async with serving(config) as app:
        assert await app.outbox.sweep(hour_ago()) == 1
    [answer] = fake.sent_to(DISCORD_DM)
    assert answer["id"] == fragment["id"] and answer["content"] == WHOLE and answer["components"]


async def test_a_half_written_message_deleted_meanwhile_is_posted_anew(
    start_bot: BotFactory, make_config: ConfigFactory, fake_slack: FakeSlack
) -> None:
    key = ThreadKey("slack", TEAM, SLACK_DM, SLACK_DM)
    async with running_app(make_config()) as earlier:
        inbound = await left_unanswered(earlier.store, key, "D0ADA:610.1", "invoices?", datetime.now(UTC))
        await earlier.store.note_shown(inbound.id, ["1700000009.000100"])  # since deleted by someone
        await earlier.store.record_reply(
            inbound, Role.ASSISTANT, WHOLE, 9, None, settles=MessageStatus.ANSWERED
        )
    bot = await start_bot()
    assert await bot.app.outbox.sweep(hour_ago()) == 1
    [answer] = fake_slack.thread(SLACK_DM, None)
    assert answer.text == "Open *Billing*, then _Invoices_." and answer.blocks
    conv = await bot.app.store.find_conversation(key)
    assert conv is not None
    question = next(m for m in await bot.app.store.messages(conv.id, 5) if m.id == inbound.id)
    assert question.shown_as == (answer.ts,)


async def test_a_reply_pending_from_before_recover_minutes_is_given_up_in_one_line(
    start_bot: BotFactory,
    make_config: ConfigFactory,
    fake_slack: FakeSlack,
    caplog: pytest.LogCaptureFixture,
) -> None:
    key = ThreadKey("slack", TEAM, SLACK_DM, SLACK_DM)
    async with running_app(make_config()) as earlier:
        two_hours_ago = datetime.now(UTC) - timedelta(hours=2)
        old = await left_unanswered(earlier.store, key, "D0ADA:620.1", "invoices?", two_hours_ago)
        stale = await earlier.store.record_reply(
            old, Role.ASSISTANT, WHOLE, 9, None, settles=MessageStatus.ANSWERED
        )
        await sqlite_db(earlier).execute(
            "UPDATE messages SET created_at = ? WHERE id = ?", (two_hours_ago.isoformat(), stale)
        )
        await sqlite_db(earlier).commit()
    bot = await start_bot()
    with caplog.at_level(logging.ERROR, "bot.conversation.outbox"):
        assert await bot.app.outbox.sweep(hour_ago(), expire=True) == 0
        assert await bot.app.outbox.sweep(hour_ago(), expire=True) == 0
    assert fake_slack.thread(SLACK_DM, None) == []  # an answer two hours late is not posted
    conv = await bot.app.store.find_conversation(key)
    assert conv is not None
    reply = next(m for m in await bot.app.store.messages(conv.id, 5) if m.id == stale)
    assert (reply.status, reply.error) == (MessageStatus.FAILED, EXPIRED)
    [line] = [r.getMessage() for r in caplog.records if r.name == "bot.conversation.outbox"]
    assert line.startswith("1 reply(s) pending since before bot.recover_minutes were not delivered")


async def test_a_redelivery_never_takes_a_live_answer_of_the_same_thread_for_its_own(
    start_bot: BotFactory, make_config: ConfigFactory, fake_slack: FakeSlack
) -> None:
    channel, thread = "C0SUPPORT", "800.1"
    await left_pending(make_config, ThreadKey("slack", TEAM, channel, thread))
    bot = await start_bot()
    fake_slack.latency["conversations.replies"] = 0.5  # the look for leftovers is slow
    sweep = asyncio.create_task(bot.app.outbox.sweep(hour_ago()))
    await fake_slack.wait_calls("conversations.replies")
    # Meanwhile the next question of the thread comes in and is answered live.
    await bot.send.event(mention("and refunds?", channel=channel, ts="801.1", user=USER, thread_ts=thread))
    assert await sweep == 1
    await bot.slack.wait_for(lambda: len(answers(fake_slack, channel, thread)) == 2, what="both answers")
    redelivered, live = (m.text for m in answers(fake_slack, channel, thread))
    assert redelivered == "Open *Billing*, then _Invoices_." and live.endswith("and refunds?")


async def test_a_reply_two_deliveries_take_up_at_once_is_delivered_once(
    start_bot: BotFactory, make_config: ConfigFactory, fake_slack: FakeSlack
) -> None:
    channel, thread = "C0SUPPORT", "900.1"
    key = ThreadKey("slack", TEAM, channel, thread)
    inbound, reply_id = await left_pending(make_config, key)
    bot = await start_bot()
    fake_slack.latency["conversations.replies"] = 0.5  # the look for leftovers is slow
    # The start-up sweep delivers it (bot/conversation/recovery.py) and holds the thread's turn...
    done = ReplyDone(WHOLE, ReplyStatus.ANSWERED, reply_id)
    recovery = asyncio.create_task(bot.app.outbox.deliver(key, done, inbound))
    await fake_slack.wait_calls("conversations.replies")
    # ...while the outbox's own round finds it pending and waits for the turn.
    assert await bot.app.outbox.sweep(hour_ago()) == 0
    assert await recovery is True
    [answer] = answers(fake_slack, channel, thread)
    assert answer.text == "Open *Billing*, then _Invoices_." and answer.blocks
