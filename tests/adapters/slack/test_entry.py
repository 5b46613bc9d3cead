"""Slack's escalation entry points and feedback, through the real Bolt app, into the real core and store."""

from __future__ import annotations

import json
import sqlite3

from adapters.slack.blocks import ESCALATE_SHORTCUT, FEEDBACK_ACTION, FEEDBACK_UP_ACTION, HUMAN_ACTION
from bot.events import ThreadKey
from bot.storage.store import EscalationRecord, MessageStatus
from tests.adapters.slack.test_adapter import CHANNEL, DM, USER, answers, button_values, wait_answers
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_server import TEAM, block_action, mention, message, message_shortcut
from tests.helpers import Bot, BotFactory, staff_channel_toml, until

# The same fixtures as the conversation tests: the fake Slack and the adapter in HTTP mode.

STAFF = "U0STAFF"
STAFF_TOML = f'[escalation]\nstaff_user_ids = ["{STAFF}"]\n'


async def escalation(bot: Bot, key: ThreadKey) -> EscalationRecord | None:
    conv = await bot.app.store.find_conversation(key)
    assert conv is not None, f"no conversation {key}"
    return await bot.app.store.current_escalation(conv.id)


def command_text(body: str) -> str:
    text = json.loads(body)["text"]
    assert isinstance(text, str)
    return text


async def test_slash_escalate_in_a_channel_takes_the_users_latest_conversation(start_bot: BotFactory) -> None:
    bot = await start_bot(staff_channel_toml())
    await bot.send.event(mention("first", channel=CHANNEL, ts="1000.1", user=USER))
    await bot.send.event(mention("second", channel=CHANNEL, ts="1001.1", user=USER))
    await wait_answers(bot.slack, CHANNEL, "1001.1", 1)
    await wait_answers(bot.slack, CHANNEL, "1000.1", 1)
    status, body = await bot.send.command("/escalate", "my invoice is wrong", channel=CHANNEL, user=USER)
    assert status == 200
    assert "asked a person" in command_text(body) and "<!date^1001^" in command_text(body)
    record = await escalation(bot, ThreadKey("slack", TEAM, CHANNEL, "1001.1"))
    assert record is not None
    assert (record.state, record.trigger, record.reason, record.requested_by) == (
        "waiting",
        "command",
        "my invoice is wrong",
        USER,
    )
    assert await escalation(bot, ThreadKey("slack", TEAM, CHANNEL, "1000.1")) is None
    # Asking again says so; the bot now stays quiet in that thread.
    _, again = await bot.send.command("/escalate", "", channel=CHANNEL, user=USER)
    assert "already with our team" in command_text(again)


async def test_slash_escalate_without_a_conversation_explains_what_to_do(start_bot: BotFactory) -> None:
    bot = await start_bot(staff_channel_toml())
    status, body = await bot.send.command("/escalate", "help", channel=CHANNEL, user=USER)
    assert status == 200 and "Mention me" in command_text(body)
    _, in_dm = await bot.send.command("/escalate", "", channel=DM, user=USER)
    assert "asked a person" in command_text(in_dm) and "this DM" in command_text(in_dm)
    record = await escalation(bot, ThreadKey("slack", TEAM, DM, DM))
    assert record is not None and record.reason == "asked with /escalate"


async def test_escalated_thread_is_left_to_staff(start_bot: BotFactory, fake_openai: FakeOpenAI) -> None:
    bot = await start_bot()
    await bot.send.event(message("hello", channel=DM, ts="1100.1", user=USER))
    await wait_answers(bot.slack, DM, None, 1)
    await bot.send.command("/escalate", "", channel=DM, user=USER)
    await bot.send.event(message("are you there?", channel=DM, ts="1100.2", user=USER))
    conv = await bot.app.store.find_conversation(ThreadKey("slack", TEAM, DM, DM))
    assert conv is not None

    async def handed_over() -> bool:
        stored = await bot.app.store.messages(conv.id, 10)
        return any(m.status is MessageStatus.HANDED_OVER for m in stored)

    await until(handed_over, "the second message stored as handed over")
    assert len(fake_openai.requests) == 1
    # No sign of an answer coming: no 👀 and no "is thinking…" on the escalated message.
    assert [c.params["timestamp"] for c in bot.slack.called("reactions.add")] == ["1100.1"]
    assert len(answers(bot.slack, DM, None)) == 1


async def test_talk_to_a_human_button_escalates_the_answers_conversation(start_bot: BotFactory) -> None:
    bot = await start_bot(staff_channel_toml())
    await bot.send.event(mention("hello", channel=CHANNEL, ts="1200.1", user=USER))
    [answer] = await wait_answers(bot.slack, CHANNEL, "1200.1", 1)
    value = button_values(answer)[HUMAN_ACTION]
    action = block_action(
        HUMAN_ACTION, value, user=USER, channel=CHANNEL, message_ts=answer.ts, thread_ts="1200.1"
    )
    status, _ = await bot.send.interaction(action)
    assert status == 200
    [ephemeral] = await bot.slack.wait_calls("chat.postEphemeral")
    assert ephemeral.params["user"] == USER and ephemeral.params["thread_ts"] == "1200.1"
    assert "asked a person" in ephemeral.params["text"]
    record = await escalation(bot, ThreadKey("slack", TEAM, CHANNEL, "1200.1"))
    assert record is not None and (record.trigger, record.requested_by) == ("button", USER)


async def test_message_shortcut_escalates_the_thread_it_was_used_in(start_bot: BotFactory) -> None:
    bot = await start_bot()
    payload = message_shortcut(
        ESCALATE_SHORTCUT, user=USER, channel=CHANNEL, ts="1300.5", thread_ts="1300.1", text="this is urgent"
    )
    status, _ = await bot.send.interaction(payload)
    assert status == 200
    [ephemeral] = await bot.slack.wait_calls("chat.postEphemeral")
    assert ephemeral.params["thread_ts"] == "1300.1"
    record = await escalation(bot, ThreadKey("slack", TEAM, CHANNEL, "1300.1"))
    assert record is not None and (record.trigger, record.reason) == ("shortcut", "this is urgent")


async def test_feedback_is_stored_and_a_downvote_offers_a_human(start_bot: BotFactory) -> None:
    bot = await start_bot()
    await bot.send.event(mention("hello", channel=CHANNEL, ts="1400.1", user=USER))
    [answer] = await wait_answers(bot.slack, CHANNEL, "1400.1", 1)
    values = button_values(answer)
    where = {"user": USER, "channel": CHANNEL, "message_ts": answer.ts, "thread_ts": "1400.1"}
    await bot.send.interaction(block_action(FEEDBACK_ACTION, values["up"], **where))
    await bot.slack.wait_calls("chat.postEphemeral")
    await bot.send.interaction(block_action(FEEDBACK_ACTION, values["down"], **where))
    [_, offer] = await bot.slack.wait_calls("chat.postEphemeral", 2)
    reply_id = int(values["down"].split(":")[1])
    assert feedback_rows(bot) == [(reply_id, USER, -1)]  # a changed vote replaces the first
    offered = (
        json.loads(offer.params["blocks"])
        if isinstance(offer.params["blocks"], str)
        else offer.params["blocks"]
    )
    human = offered[1]["elements"][0]
    assert human["action_id"] == HUMAN_ACTION
    # Taking the offer escalates with the feedback trigger.
    await bot.send.interaction(block_action(HUMAN_ACTION, human["value"], **where))
    await bot.slack.wait_calls("chat.postEphemeral", 3)
    record = await escalation(bot, ThreadKey("slack", TEAM, CHANNEL, "1400.1"))
    assert record is not None and record.trigger == "feedback"


async def test_classic_feedback_buttons_are_stored_too(start_bot: BotFactory) -> None:
    bot = await start_bot()
    bot.slack.feedback_blocks = False
    await bot.send.event(message("hello", channel=DM, ts="1450.1", user=USER))
    [answer] = await wait_answers(bot.slack, DM, None, 1)
    value = button_values(answer)[FEEDBACK_UP_ACTION]
    await bot.send.interaction(
        block_action(FEEDBACK_UP_ACTION, value, user=USER, channel=DM, message_ts=answer.ts, thread_ts=None)
    )
    await bot.slack.wait_calls("chat.postEphemeral")
    assert feedback_rows(bot) == [(int(value.split(":")[1]), USER, 1)]


async def test_resolve_is_for_staff_and_hands_the_conversation_back(
    start_bot: BotFactory, fake_openai: FakeOpenAI
) -> None:
    bot = await start_bot(STAFF_TOML)
    await bot.send.event(mention("hello", channel=CHANNEL, ts="1500.1", user=USER))
    await wait_answers(bot.slack, CHANNEL, "1500.1", 1)
    await bot.send.command("/escalate", "", channel=CHANNEL, user=USER)
    _, refused = await bot.send.command("/resolve", "", channel=CHANNEL, user=USER)
    assert "Only support staff" in command_text(refused)
    link = f"https://acme.slack.com/archives/{CHANNEL}/p1500000000000001?thread_ts=1500.1"
    status, body = await bot.send.command("/resolve", link, channel="C0STAFF", user=STAFF)
    assert status == 200 and "Resolved" in command_text(body)
    assert await escalation(bot, ThreadKey("slack", TEAM, CHANNEL, "1500.1")) is None
    # Back with the bot: the next question is answered again.
    await bot.send.event(mention("thanks", channel=CHANNEL, ts="1500.3", user=USER, thread_ts="1500.1"))
    await wait_answers(bot.slack, CHANNEL, "1500.1", 2)


async def test_resolve_without_a_link_takes_the_one_open_escalation_here(start_bot: BotFactory) -> None:
    bot = await start_bot(STAFF_TOML)
    _, none_here = await bot.send.command("/resolve", "", channel=DM, user=STAFF)
    assert "no open escalation" in command_text(none_here)
    await bot.send.command("/escalate", "", channel=DM, user=USER)
    _, body = await bot.send.command("/resolve", "", channel=DM, user=STAFF)
    assert "Resolved" in command_text(body)


def feedback_rows(bot: Bot) -> list[tuple[int, str, int]]:
    path = bot.app.config.settings.database.path
    with sqlite3.connect(path) as db:
        return [
            (int(r[0]), str(r[1]), int(r[2]))
            for r in db.execute("SELECT message_id, user_id, value FROM feedback")
        ]
