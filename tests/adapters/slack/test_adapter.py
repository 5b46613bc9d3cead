"""The Slack adapter end to end: the real Bolt app in HTTP mode, signed requests, a fake Slack Web API.

The LLM is the fake OpenAI server (it echoes the last message and counts the messages it got), the
store is real SQLite; nothing of ours is mocked.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from adapters.slack.adapter import SlackAdapter
from adapters.slack.blocks import HUMAN_ACTION, SOLVED_ACTION
from adapters.slack.mrkdwn import to_mrkdwn
from bot.app import running_app
from bot.events import ThreadKey
from bot.platforms import AdapterStartError
from bot.storage.store import MessageStatus, Role, StoredMessage
from tests.conftest import ConfigFactory
from tests.conversation.test_grounding import KB_TOML, citing_reply, write_kb
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_server import (
    BOT_ID,
    BOT_USER,
    TEAM,
    FakeSlack,
    Message,
    event_callback,
    mention,
    message,
    slash_command,
)
from tests.helpers import Bot, BotFactory, retry_now, staff_channel_toml, until

CHANNEL, DM, USER = "C0SUPPORT", "D0ADA", "U0ADA"


def answers(slack: FakeSlack, channel: str, thread_ts: str | None) -> list[Message]:
    """The bot's finished answers in a thread (messages carrying the buttons)."""
    return [m for m in slack.thread(channel, thread_ts) if m.blocks and not m.streaming]


async def wait_answers(slack: FakeSlack, channel: str, thread_ts: str | None, count: int) -> list[Message]:
    await slack.wait_for(lambda: len(answers(slack, channel, thread_ts)) >= count, what=f"{count} answers")
    return answers(slack, channel, thread_ts)


def button_values(msg: Message) -> dict[str, str]:
    """action_id → value of every button and feedback element under a message."""
    values: dict[str, str] = {}
    for block in msg.blocks:
        for element in block.get("elements", []):
            if element.get("type") == "feedback_buttons":
                values["up"] = element["positive_button"]["value"]
                values["down"] = element["negative_button"]["value"]
            elif "action_id" in element:
                values[element["action_id"]] = element.get("value", "")
    return values


async def test_mention_is_answered_in_its_thread_with_history(
    start_bot: BotFactory, fake_openai: FakeOpenAI
) -> None:
    bot = await start_bot()
    assert (
        await bot.send.event(mention("how do I reset my password", channel=CHANNEL, ts="100.1", user=USER))
        == 200
    )
    [first] = await wait_answers(bot.slack, CHANNEL, "100.1", 1)
    assert first.text == "Echo (2 messages): how do I reset my password"
    assert set(button_values(first)) == {HUMAN_ACTION, "up", "down", SOLVED_ACTION}
    # The first visible sign came before the answer: the assistant status, here.
    methods = [c.method for c in bot.slack.calls]
    assert methods.index("assistant.threads.setStatus") < methods.index("chat.startStream")
    start = bot.slack.called("chat.startStream")[0].params
    assert (start["thread_ts"], start["recipient_user_id"], start["recipient_team_id"]) == (
        "100.1",
        USER,
        TEAM,
    )
    # The last words ride on chat.stopStream with the buttons: no appendStream just before it.
    [stop] = bot.slack.called("chat.stopStream")
    assert stop.params.get("markdown_text") and first.text.endswith(stop.params["markdown_text"])

    await bot.send.event(
        mention("and my username?", channel=CHANNEL, ts="100.2", user=USER, thread_ts="100.1")
    )
    second = (await wait_answers(bot.slack, CHANNEL, "100.1", 2))[1]
    assert second.text == "Echo (4 messages): and my username?"
    sent = [(m["role"], m["content"]) for m in fake_openai.requests[-1]["messages"][1:]]
    assert sent[0] == ("user", "how do I reset my password")  # the earlier turn reached the model
    assert len(bot.slack.called("users.info")) == 1  # the name is cached
    key = ThreadKey("slack", TEAM, CHANNEL, "100.1")
    await _assert_delivered(bot, key)
    conv = await bot.app.store.find_conversation(key)
    assert conv is not None
    stored = await bot.app.store.messages(conv.id, 10)
    assert (stored[0].role, stored[0].user_name) == (Role.USER, "Ada")
    assert stored[1].platform_message_id == first.ts


async def test_the_web_api_calls_share_kept_alive_connections(start_bot: BotFactory) -> None:
    bot = await start_bot()
    for n in range(1, 4):
        await bot.send.event(mention(f"question {n}", channel=CHANNEL, ts=f"30{n}.1", user=USER))
        await wait_answers(bot.slack, CHANNEL, f"30{n}.1", 1)
    calls = bot.slack.calls
    assert len(calls) >= 12
    # Not one connection (and TCP handshake) per call: the few that calls in parallel need.
    assert len({c.peer for c in calls}) <= 3, [(c.method, c.peer) for c in calls]


async def test_a_grounded_answer_ends_with_its_sources_as_slack_links(
    start_bot: BotFactory, fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    write_kb(tmp_path)
    fake_openai.reply = citing_reply
    bot = await start_bot(KB_TOML, kb=True)
    await bot.send.event(
        mention("can I get a refund on my annual plan?", channel=CHANNEL, ts="300.1", user=USER)
    )
    [answer] = await wait_answers(bot.slack, CHANNEL, "300.1", 1)
    assert "<reference-" in fake_openai.requests[0]["messages"][-2]["content"]
    assert answer.text == (
        "Annual plans are refunded within 30 days [1].\n\n"
        "Sources:\n[1] Refunds — https://help.example.com/refunds"
    )


async def test_thread_follow_ups_need_no_mention_but_other_threads_are_left_alone(
    start_bot: BotFactory, fake_openai: FakeOpenAI
) -> None:
    bot = await start_bot()
    await bot.send.event(mention("hello", channel=CHANNEL, ts="200.1", user=USER))
    await wait_answers(bot.slack, CHANNEL, "200.1", 1)
    # A human thread the bot is not in, and a top-level channel message: both ignored.
    await bot.send.event(message("not for you", channel=CHANNEL, ts="300.2", user=USER, thread_ts="300.1"))
    await bot.send.event(message("chatter", channel=CHANNEL, ts="300.3", user=USER))
    await bot.send.event(message("one more thing", channel=CHANNEL, ts="200.2", user=USER, thread_ts="200.1"))
    [_, follow] = await wait_answers(bot.slack, CHANNEL, "200.1", 2)
    assert follow.text == "Echo (4 messages): one more thing"
    assert len(fake_openai.requests) == 2
    assert not bot.slack.thread(CHANNEL, "300.1") and not bot.slack.thread(CHANNEL, None)


async def test_follow_threads_off_answers_mentions_only(
    start_bot: BotFactory, fake_openai: FakeOpenAI
) -> None:
    bot = await start_bot("[slack]\nfollow_threads = false\n")
    await bot.send.event(mention("hello", channel=CHANNEL, ts="210.1", user=USER))
    await wait_answers(bot.slack, CHANNEL, "210.1", 1)
    await bot.send.event(message("follow-up", channel=CHANNEL, ts="210.2", user=USER, thread_ts="210.1"))
    await bot.send.event(mention("again", channel=CHANNEL, ts="210.3", user=USER, thread_ts="210.1"))
    await wait_answers(bot.slack, CHANNEL, "210.1", 2)
    assert [r["messages"][-1]["content"] for r in fake_openai.requests] == ["hello", "again"]


async def test_a_mention_inside_a_human_thread_joins_it(start_bot: BotFactory) -> None:
    bot = await start_bot()
    await bot.send.event(mention("can you help?", channel=CHANNEL, ts="220.5", user=USER, thread_ts="220.1"))
    [answer] = await wait_answers(bot.slack, CHANNEL, "220.1", 1)
    assert answer.text.endswith("can you help?")


async def test_dm_is_answered_where_it_was_written(start_bot: BotFactory, fake_openai: FakeOpenAI) -> None:
    bot = await start_bot()
    await bot.send.event(message("hi there", channel=DM, ts="400.1", user=USER))
    [first] = await wait_answers(bot.slack, DM, None, 1)
    assert first.text == "Echo (2 messages): hi there"
    # No thread, so no status or stream: a 👀 reaction while working, removed when done.
    assert bot.slack.called("reactions.add")[0].params == {
        "channel": DM,
        "timestamp": "400.1",
        "name": "eyes",
    }
    await bot.slack.wait_calls("reactions.remove")
    assert not bot.slack.reactions
    await bot.send.event(message("and again", channel=DM, ts="400.2", user=USER))
    second = (await wait_answers(bot.slack, DM, None, 2))[1]
    assert second.text == "Echo (4 messages): and again"  # one conversation per DM


async def test_retries_and_duplicate_deliveries_get_one_answer(
    start_bot: BotFactory, fake_openai: FakeOpenAI
) -> None:
    bot = await start_bot()
    event = mention("only once please", channel=CHANNEL, ts="500.1", user=USER)
    assert await bot.send.event(event, event_id="Ev500") == 200
    assert await bot.send.event(event, event_id="Ev500", retry=1) == 200
    assert await bot.send.event(event, event_id="Ev500", retry=2) == 200
    # The same message also arrives as a channel message event (it mentions the bot).
    await bot.send.event(message(f"<@{BOT_USER}> only once please", channel=CHANNEL, ts="500.1", user=USER))
    await wait_answers(bot.slack, CHANNEL, "500.1", 1)
    await bot.send.event(mention("next", channel=CHANNEL, ts="501.1", user=USER))
    await wait_answers(bot.slack, CHANNEL, "501.1", 1)
    assert len(answers(bot.slack, CHANNEL, "500.1")) == 1
    assert len(fake_openai.requests) == 2


async def test_duplicates_across_a_restart_are_not_answered_again(
    start_bot: BotFactory, fake_openai: FakeOpenAI, fake_slack: FakeSlack
) -> None:
    first = await start_bot()
    await first.send.event(message("hello", channel=DM, ts="510.1", user=USER))
    await wait_answers(fake_slack, DM, None, 1)
    again = await start_bot()  # same database: a new process after a crash would be the same
    await again.send.event(message("hello", channel=DM, ts="510.1", user=USER), retry=1)
    await again.send.event(message("new question", channel=DM, ts="510.2", user=USER))
    await wait_answers(fake_slack, DM, None, 2)
    assert [r["messages"][-1]["content"] for r in fake_openai.requests] == ["hello", "new question"]


async def test_bot_messages_edits_and_other_subtypes_are_ignored(
    start_bot: BotFactory, fake_openai: FakeOpenAI
) -> None:
    bot = await start_bot()
    ignored = [
        message("I am a bot", channel=DM, ts="600.1", user="U0OTHER", bot_id="B0OTHER"),
        message("legacy bot", channel=DM, ts="600.2", user="U0OTHER", subtype="bot_message"),
        message("my own answer", channel=DM, ts="600.3", user=BOT_USER, bot_id=BOT_ID),
        message("edited", channel=DM, ts="600.4", user=USER, subtype="message_changed"),
        message("", channel=DM, ts="600.5", user=USER, subtype="message_deleted"),
        message("joined", channel=CHANNEL, ts="600.6", user=USER, subtype="channel_join"),
    ]
    for event in ignored:
        assert await bot.send.event(event) == 200
    await bot.send.event(message("a human question", channel=DM, ts="600.9", user=USER))
    await wait_answers(bot.slack, DM, None, 1)
    assert [r["messages"][-1]["content"] for r in fake_openai.requests] == ["a human question"]
    assert len(bot.slack.called("reactions.add")) == 1


LONG = "\n\n".join(
    f"Step {i}: **open** the _settings_ page and [read this](https://x.test/{i}). " * 3 for i in range(9)
)


async def test_long_answer_is_split_into_messages_with_buttons_on_the_last(
    start_bot: BotFactory, fake_openai: FakeOpenAI
) -> None:
    fake_openai.reply = lambda _: LONG
    bot = await start_bot('[slack]\nstream = "edits"\nmax_interim_chars = 600\n')
    await bot.send.event(message("tell me everything", channel=DM, ts="700.1", user=USER))
    await bot.slack.wait_for(lambda: len(answers(bot.slack, DM, None)) == 1, what="the final answer")
    parts = bot.slack.thread(DM, None)
    assert len(parts) >= 4 and all(len(p.text) <= 600 for p in parts)
    assert [bool(p.blocks) for p in parts] == [False] * (len(parts) - 1) + [True]
    assert "\n".join(p.text for p in parts).replace("\n", "") == to_mrkdwn(LONG.strip()).replace("\n", "")
    assert "*open* the _settings_ page and <https://x.test/0|read this>" in parts[0].text


async def test_msg_too_long_from_slack_moves_the_tail_to_new_messages(
    start_bot: BotFactory, fake_openai: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    fake_openai.reply = lambda _: LONG
    bot = await start_bot('[slack]\nstream = "edits"\nmax_interim_chars = 1500\n')
    bot.slack.max_text = 700  # Slack counts differently than we do: it refuses what we thought fits
    caplog.set_level(logging.INFO, "bot.reply")
    await bot.send.event(message("tell me everything", channel=DM, ts="710.1", user=USER))
    await bot.slack.wait_for(lambda: len(answers(bot.slack, DM, None)) == 1, what="the final answer")
    parts = bot.slack.thread(DM, None)
    assert all(len(p.text) <= 700 for p in parts) and len(parts) >= 3
    assert "\n".join(p.text for p in parts).replace("\n", "") == to_mrkdwn(LONG.strip()).replace("\n", "")
    assert "msg_too_long" in caplog.text
    await _assert_delivered(bot, ThreadKey("slack", TEAM, DM, DM))


async def test_native_stream_continues_in_a_new_message_on_msg_too_long(
    start_bot: BotFactory, fake_openai: FakeOpenAI
) -> None:
    fake_openai.reply = lambda _: LONG
    bot = await start_bot()
    bot.slack.max_text = 1000
    await bot.send.event(mention("tell me everything", channel=CHANNEL, ts="720.1", user=USER))
    await wait_answers(bot.slack, CHANNEL, "720.1", 1)
    parts = bot.slack.thread(CHANNEL, "720.1")
    assert len(parts) >= 2 and not any(p.streaming for p in parts)
    # Cut at paragraph breaks: the whole text, less the breaks it was cut at.
    assert " ".join(p.text for p in parts).split() == LONG.split()
    assert all(len(p.text) <= 1000 for p in parts)


async def test_without_streaming_status_or_feedback_blocks_it_falls_back_once(
    start_bot: BotFactory, fake_openai: FakeOpenAI
) -> None:
    bot = await start_bot()
    bot.slack.streaming = bot.slack.assistant_status = bot.slack.feedback_blocks = False
    for n in (1, 2):
        await bot.send.event(mention(f"question {n}", channel=CHANNEL, ts=f"73{n}.1", user=USER))
        [answer] = await wait_answers(bot.slack, CHANNEL, f"73{n}.1", 1)
        assert answer.text == f"Echo (2 messages): question {n}"
        assert set(button_values(answer)) == {
            HUMAN_ACTION,
            SOLVED_ACTION,
            "supportbot_feedback_up",
            "supportbot_feedback_down",
        }
    # Each refusal was tried once, then remembered.
    assert len(bot.slack.called("chat.startStream")) == 1
    assert len(bot.slack.called("assistant.threads.setStatus")) == 1
    assert len(bot.slack.called("reactions.add")) == 2


async def test_rate_limits_are_retried(start_bot: BotFactory) -> None:
    bot = await start_bot('[slack]\nstream = "edits"\n')
    bot.slack.fail_next("chat.postMessage", "ratelimited")
    await bot.send.event(message("hello", channel=DM, ts="800.1", user=USER))
    await wait_answers(bot.slack, DM, None, 1)
    assert len(bot.slack.called("chat.postMessage")) == 2
    await _assert_delivered(bot, ThreadKey("slack", TEAM, DM, DM))


async def test_api_errors_are_logged_with_the_fix_and_the_reply_is_retried_by_the_outbox(
    start_bot: BotFactory, caplog: pytest.LogCaptureFixture
) -> None:
    bot = await start_bot('[slack]\nstream = "edits"\n')
    bot.slack.fail_next("chat.postMessage", "missing_scope", times=2)
    caplog.set_level(logging.WARNING)
    await bot.send.event(message("hello", channel=DM, ts="810.1", user=USER))
    key = ThreadKey("slack", TEAM, DM, DM)
    await bot.slack.wait_for(lambda: "add the bot scope 'chat:write'" in caplog.text)
    assert "xoxb-test-token" not in caplog.text
    conv = await bot.app.store.find_conversation(key)
    assert conv is not None

    async def replies() -> list[StoredMessage]:
        found = await bot.app.store.messages(conv.id, 10)
        return [m for m in found if m.role is Role.ASSISTANT and m.error]

    [reply] = await until(replies, "the failed attempt recorded")
    assert (reply.status, reply.error) == (MessageStatus.PENDING, "missing_scope")  # tried again later
    assert answers(bot.slack, DM, None) == []
    # The process keeps running: the next message is answered.
    await bot.send.event(message("still there?", channel=DM, ts="810.2", user=USER))
    await wait_answers(bot.slack, DM, None, 1)
    # Once Slack takes it, the outbox delivers the first answer, once.
    assert await retry_now(bot.app) == 1
    assert sorted(m.text for m in answers(bot.slack, DM, None)) == [
        "Echo (2 messages): hello",
        "Echo (4 messages): still there?",
    ]
    assert await retry_now(bot.app) == 0
    reply = next(m for m in await bot.app.store.messages(conv.id, 10) if m.id == reply.id)
    assert reply.status is MessageStatus.DELIVERED


async def test_requests_without_a_valid_signature_get_401_and_no_answer(
    start_bot: BotFactory, fake_openai: FakeOpenAI
) -> None:
    bot = await start_bot()
    body = bot.send.event_body(message("sneaky", channel=DM, ts="900.1", user=USER))
    unsigned = await bot.send.post(body, "application/json", headers={})
    forged = await bot.send.post(body, "application/json", bot.send.headers(body, secret="not-the-secret"))
    stale = await bot.send.post(body, "application/json", bot.send.headers(body, timestamp=1_600_000_000))
    assert [unsigned[0], forged[0], stale[0]] == [401, 401, 401]
    # A correctly signed request after them is answered; the rejected ones never were.
    await bot.send.event(message("legit", channel=DM, ts="900.2", user=USER))
    await wait_answers(bot.slack, DM, None, 1)
    assert [r["messages"][-1]["content"] for r in fake_openai.requests] == ["legit"]
    async with bot.send.session.get(f"http://127.0.0.1:{bot.adapter.port}/healthz") as resp:
        assert resp.status == 200 and (await resp.json())["ok"] is True


async def test_a_rejected_token_stops_the_start_with_a_clear_message(
    start_bot: BotFactory, fake_slack: FakeSlack
) -> None:
    with pytest.raises(AdapterStartError, match="invalid_auth: SLACK_BOT_TOKEN was rejected"):
        await start_bot(token="xoxb-revoked")


async def test_socket_mode_answers_and_acks_over_the_websocket(
    make_config: ConfigFactory, fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", fake_slack.token)
    monkeypatch.setenv("SLACK_APP_TOKEN", fake_slack.app_token)
    monkeypatch.setenv("SLACK_API_URL", fake_slack.api_url)
    monkeypatch.delenv("SLACK_SIGNING_SECRET", raising=False)
    async with running_app(make_config(staff_channel_toml())) as app:
        adapter = SlackAdapter(app.service, app.config, mode="socket")
        await adapter.start()
        try:
            sent = await fake_slack.socket_send(
                "events_api", event_callback(message("hi", channel=DM, ts="950.1", user=USER), "Ev950")
            )
            [answer] = await wait_answers(fake_slack, DM, None, 1)
            assert answer.text == "Echo (2 messages): hi"
            command = await fake_slack.socket_send(
                "slash_commands", slash_command("/escalate", "", channel=DM, user=USER)
            )
            await fake_slack.wait_for(
                lambda: any(a["envelope_id"] == command for a in fake_slack.socket_acks)
            )
        finally:
            await adapter.close()
    acks = {a["envelope_id"]: a for a in fake_slack.socket_acks}
    assert sent in acks and "asked a person" in acks[command]["payload"]["text"]


async def test_socket_mode_names_a_rejected_app_token(
    start_bot: BotFactory, make_config: ConfigFactory, fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", fake_slack.token)
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-wrong")
    monkeypatch.setenv("SLACK_API_URL", fake_slack.api_url)
    async with running_app(make_config()) as app:
        with pytest.raises(AdapterStartError, match="invalid_auth: set SLACK_APP_TOKEN"):
            await SlackAdapter(app.service, app.config, mode="socket").start()


async def _assert_delivered(bot: Bot, key: ThreadKey) -> None:
    """Every reply gets stored as delivered, with its ts (just after Slack answered the last call)."""

    async def delivered() -> bool:
        conv = await bot.app.store.find_conversation(key)
        stored = await bot.app.store.messages(conv.id, 10) if conv is not None else []
        replies = [m for m in stored if m.role is Role.ASSISTANT]
        return bool(replies) and all(
            m.status is MessageStatus.DELIVERED and m.platform_message_id for m in replies
        )

    await until(delivered, "the replies stored as delivered")
