"""The start-up sweep: a message stored before a stop but never answered is answered on the next run."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from adapters.slack.blocks import FEEDBACK_DOWN_ACTION, FEEDBACK_UP_ACTION, HUMAN_ACTION, SOLVED_ACTION
from bot.conversation.recovery import answer_unanswered
from bot.events import ThreadKey
from bot.storage.store import MessageStatus, Role
from tests.adapters.slack.test_adapter import DM
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_server import TEAM
from tests.helpers import BotFactory, left_unanswered, sqlite_db


async def test_a_message_left_unanswered_by_a_stop_is_answered_once_on_start(
    start_bot: BotFactory, fake_openai: FakeOpenAI
) -> None:
    bot = await start_bot()
    key = ThreadKey("slack", TEAM, DM, DM)
    earlier = datetime.now(UTC)
    await left_unanswered(bot.app.store, key, f"{DM}:1700000000.000100", "where are my invoices?", earlier)
    started = earlier + timedelta(seconds=1)

    fake_openai.reply = lambda request: "Open **Billing** → *Invoices*."
    assert await answer_unanswered(bot.app, started) == 1
    posts = [c.params for c in bot.slack.calls if c.method == "chat.postMessage"]
    # Delivered like a live answer: Markdown turned into mrkdwn, with the answer's buttons.
    assert [(p["channel"], p["text"]) for p in posts] == [(DM, "Open *Billing* → _Invoices_.")]
    actions = [e["action_id"] for b in posts[0]["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert actions == [HUMAN_ACTION, SOLVED_ACTION, FEEDBACK_UP_ACTION, FEEDBACK_DOWN_ACTION]
    conv = await bot.app.store.find_conversation(key)
    assert conv is not None
    inbound, reply = await bot.app.store.messages(conv.id, 5)
    assert (inbound.status, reply.role, reply.status) == (
        MessageStatus.ANSWERED,
        Role.ASSISTANT,
        MessageStatus.DELIVERED,
    )
    assert reply.platform_message_id is not None and reply.platform_message_id in bot.slack.messages
    assert await answer_unanswered(bot.app, started) == 0  # never twice
    assert len(fake_openai.requests) == 1


async def test_messages_after_the_start_or_too_old_are_left_alone(
    start_bot: BotFactory, fake_openai: FakeOpenAI
) -> None:
    bot = await start_bot("[bot]\nrecover_minutes = 5\n")
    key = ThreadKey("slack", TEAM, DM, DM)
    now = datetime.now(UTC)
    await left_unanswered(bot.app.store, key, "old", "hello", now)
    # Started ten minutes after the message: older than recover_minutes.
    assert await answer_unanswered(bot.app, now + timedelta(minutes=10)) == 0
    # Started before the message: it belongs to this run, which answers it live.
    assert await answer_unanswered(bot.app, now - timedelta(seconds=1)) == 0
    assert fake_openai.requests == []


async def test_a_message_whose_reply_was_stored_is_not_answered_again(
    start_bot: BotFactory, fake_openai: FakeOpenAI
) -> None:
    bot = await start_bot()
    key = ThreadKey("slack", TEAM, DM, DM)
    earlier = datetime.now(UTC)
    stored = await left_unanswered(bot.app.store, key, f"{DM}:1700000000.000200", "hello?", earlier)
    # A stop between storing the reply and settling the message's status leaves exactly this.
    await sqlite_db(bot.app).execute(
        "INSERT INTO messages (conversation_id, platform, role, text, status, reply_to, created_at,"
        " updated_at) VALUES (?, 'slack', 'assistant', 'Hi!', 'delivered', ?, ?, ?)",
        (stored.conversation_id, stored.id, earlier.isoformat(), earlier.isoformat()),
    )
    assert await answer_unanswered(bot.app, earlier + timedelta(seconds=1)) == 0
    assert fake_openai.requests == []


async def test_conversations_left_unanswered_are_answered_side_by_side_each_in_order(
    start_bot: BotFactory, fake_openai: FakeOpenAI
) -> None:
    """Three conversations' first messages reach the model together (the fake holds each request
    until all three are waiting: one at a time, the sweep would never finish); the second message
    of the first conversation waits for its first."""
    bot = await start_bot("[limits]\nuser_messages_per_minute = 0\n")
    earlier = datetime.now(UTC)
    keys = [ThreadKey("slack", TEAM, f"D0{n}", f"D0{n}") for n in range(3)]
    for n, key in enumerate(keys):
        await left_unanswered(
            bot.app.store, key, f"{key.channel}:1700000000.00010{n}", f"question {n}", earlier
        )
    await left_unanswered(bot.app.store, keys[0], f"{DM}:1700000000.000200", "and then?", earlier)
    fake_openai.meet = 3
    fake_openai.reply = lambda request: f"about {request['messages'][-1]['content']}"
    answered = await asyncio.wait_for(answer_unanswered(bot.app, earlier + timedelta(seconds=1)), 10)
    assert answered == 4
    asked = [r["messages"][-1]["content"] for r in fake_openai.requests]
    assert sorted(asked[:3]) == ["question 0", "question 1", "question 2"] and asked[3] == "and then?"
    conv = await bot.app.store.find_conversation(keys[0])
    assert conv is not None
    texts = [m.text for m in await bot.app.store.messages(conv.id, 10)]
    assert texts == ["question 0", "and then?", "about question 0", "about and then?"]  # by id
