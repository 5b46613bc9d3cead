"""Guards in the Slack path that no other test would miss: redelivered events, a thread's second message
while the first escalates, answers and cards in flight at close, a mention under a staff card.

The real Bolt app in HTTP mode, SQLite and the fake Slack and OpenAI servers; each test says what it
sees from outside (Slack calls, messages, requests to the model, what was stored).
"""

from __future__ import annotations

from bot.events import ThreadKey
from bot.storage.store import MessageStatus, Role
from tests.adapters.slack.test_adapter import CHANNEL, DM, USER, answers, wait_answers
from tests.adapters.slack.test_handoff import (
    STAFF,
    STAFF_CHANNEL,
    card_of,
    record_of,
    staff_toml,
    thread_texts,
)
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_server import TEAM, FakeSlack, mention, message
from tests.helpers import Bot, BotFactory, staff_channel_toml, until

DM_KEY = ThreadKey("slack", TEAM, DM, DM)


async def status_of(bot: Bot, key: ThreadKey, text: str) -> MessageStatus | None:
    """The stored status of the user's message `text` in the conversation (None before it is stored)."""
    conv = await bot.app.store.find_conversation(key)
    stored = await bot.app.store.messages(conv.id, 50) if conv else []
    return next((m.status for m in stored if m.role is Role.USER and m.text == text), None)


async def test_a_redelivered_event_looks_nobody_up_again_and_shows_no_second_sign(
    start_bot: BotFactory, fake_openai: FakeOpenAI, fake_slack: FakeSlack
) -> None:
    """Slack redelivers an event it thinks timed out (X-Slack-Retry-Num): the copy reaches the adapter
    while the first is still looking up who wrote it, and must not look them up a second time."""
    fake_slack.latency["users.info"] = 0.3
    bot = await start_bot()
    event = mention("is my invoice ready", channel=CHANNEL, ts="700.1", user=USER)
    assert await bot.send.event(event, event_id="Ev700") == 200
    await bot.slack.wait_calls("users.info")
    assert await bot.send.event(event, event_id="Ev700", retry=1) == 200
    await wait_answers(bot.slack, CHANNEL, "700.1", 1)
    await bot.adapter.close()  # everything the adapter started has finished

    statuses = [c for c in bot.slack.called("assistant.threads.setStatus") if c.params.get("status")]
    assert [c.params["thread_ts"] for c in statuses] == ["700.1"]
    assert not bot.slack.called("reactions.add")
    assert len(bot.slack.called("users.info")) == 1
    assert len(answers(bot.slack, CHANNEL, "700.1")) == 1 and len(fake_openai.requests) == 1


async def test_a_redelivered_staff_reply_under_a_card_reaches_the_user_once(
    start_bot: BotFactory, fake_openai: FakeOpenAI
) -> None:
    bot = await start_bot(staff_toml('keywords = ["a human"]\n'))
    bot.slack.users[STAFF] = "Sam"
    await bot.send.event(message("a human please", channel=DM, ts="750.1", user=USER))
    card = await card_of(bot.slack)
    await record_of(bot, DM_KEY)
    reply = message("found it, refunded", channel=STAFF_CHANNEL, ts="751.1", user=STAFF, thread_ts=card.ts)
    await bot.send.event(reply, event_id="Ev751")
    await thread_texts(bot.slack, DM, None, 2)
    await bot.send.event(reply, event_id="Ev751", retry=1)
    await bot.adapter.close()  # everything the adapter started has finished
    assert [m.text for m in bot.slack.thread(DM, None)][1:] == ["Sam (support): found it, refunded"]


async def test_a_message_queued_behind_an_escalating_one_is_left_to_staff(
    start_bot: BotFactory, fake_openai: FakeOpenAI
) -> None:
    """Three quick DMs: a question (slow to answer), "a human please" (escalates by keyword) and
    "hello?". The last was stored before the escalation existed and waited for the thread: once its
    turn comes the conversation is with staff, so the bot must not answer it."""
    fake_openai.latency_s = 0.5
    # Staff cards go to Discord, run by another instance: no card (and no summary asked of the LLM) here.
    bot = await start_bot('[escalation]\nkeywords = ["a human"]\n' + staff_channel_toml("discord", "1"))
    await bot.send.event(message("where is my parcel", channel=DM, ts="710.1", user=USER))
    await fake_openai.wait_for(lambda: fake_openai.requests, what="the question at the model")
    await bot.send.event(message("a human please", channel=DM, ts="710.2", user=USER))
    await until(lambda: status_of(bot, DM_KEY, "a human please"), "the escalating message stored")
    await bot.send.event(message("hello?", channel=DM, ts="710.3", user=USER))
    await until(lambda: status_of(bot, DM_KEY, "hello?"), "the third message stored")

    async def settled() -> MessageStatus | None:
        status = await status_of(bot, DM_KEY, "hello?")
        return status if status is not MessageStatus.RECEIVED else None

    assert await until(settled, "the third message settled") is MessageStatus.HANDED_OVER
    await bot.adapter.close()
    texts = [m.text for m in bot.slack.thread(DM, None)]
    assert len(texts) == 2 and texts[0].endswith("where is my parcel")
    assert texts[1].startswith("I've asked a person from our team to take over")
    assert [r["messages"][-1]["content"] for r in fake_openai.requests] == ["where is my parcel"]


async def test_an_answer_in_flight_when_the_adapter_closes_is_still_delivered(
    start_bot: BotFactory, fake_openai: FakeOpenAI
) -> None:
    fake_openai.latency_s = 0.5  # the model is still thinking when the adapter is told to stop
    bot = await start_bot()
    await bot.send.event(message("what are your opening hours", channel=DM, ts="720.1", user=USER))
    await fake_openai.wait_for(lambda: fake_openai.requests, what="the question at the model")
    await bot.adapter.close()
    [answer] = answers(bot.slack, DM, None)  # delivered by the time close() returned
    assert answer.text == "Echo (2 messages): what are your opening hours"
    assert await status_of(bot, DM_KEY, "what are your opening hours") is MessageStatus.ANSWERED


async def test_a_staff_card_being_prepared_when_the_adapter_closes_is_still_posted(
    start_bot: BotFactory, fake_openai: FakeOpenAI
) -> None:
    """The card waits for the LLM's summary; closing the adapter lets it finish instead of dropping it."""
    bot = await start_bot(staff_toml('keywords = ["a human"]\n'))
    fake_openai.latency_s = 0.5  # the summary for the card is slow
    await bot.send.event(message("a human please", channel=DM, ts="730.1", user=USER))
    await fake_openai.wait_for(lambda: fake_openai.requests, what="the card's summary at the model")
    assert not bot.slack.thread(STAFF_CHANNEL, None)  # the card is still being prepared
    await bot.adapter.close()
    [card] = bot.slack.thread(STAFF_CHANNEL, None)
    assert "Escalation #1 from Ada: a human please" in card.text


async def test_staff_mentioning_the_bot_under_a_card_are_relayed_not_answered(
    start_bot: BotFactory, fake_openai: FakeOpenAI
) -> None:
    bot = await start_bot(staff_toml('keywords = ["a human"]\n'))
    bot.slack.users[STAFF] = "Sam"
    await bot.send.event(message("a human please", channel=DM, ts="740.1", user=USER))
    card = await card_of(bot.slack)
    await record_of(bot, DM_KEY)  # the card's thread is known as one (staff can't be quicker than that)
    asked = len(fake_openai.requests)  # the card's summary
    # A mention in a channel comes twice: as app_mention and as a message event.
    text = "can you check the order first"
    await bot.send.event(mention(text, channel=STAFF_CHANNEL, ts="741.1", user=STAFF, thread_ts=card.ts))
    await bot.send.event(
        message(f"<@U0BOT> {text}", channel=STAFF_CHANNEL, ts="741.1", user=STAFF, thread_ts=card.ts)
    )
    dm = await thread_texts(bot.slack, DM, None, 2)
    assert dm[1] == f"Sam (support): {text}"
    await bot.adapter.close()
    assert not bot.slack.thread(STAFF_CHANNEL, card.ts)  # nothing of the bot's under the card
    assert len(fake_openai.requests) == asked
