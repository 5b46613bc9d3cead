"""Per-user limits: past them the user is told politely and no model is called (never silence)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

import pytest

from bot.app import running_app
from bot.events import IncomingMessage, ReplyStatus, ThreadKey
from tests.conftest import ConfigFactory
from tests.fakes.openai_server import FakeOpenAI
from tests.helpers import ask, message


def slack(text: str, thread: str) -> IncomingMessage:
    """A message from one Slack user, in its own thread each time."""
    return replace(message(text, thread=thread), key=ThreadKey("slack", "T1", "D1", thread))


async def test_a_user_over_the_rate_limit_is_told_to_wait_and_costs_no_model_call(
    make_config: ConfigFactory, fake_openai: FakeOpenAI
) -> None:
    async with running_app(make_config("[limits]\nuser_messages_per_minute = 2\n")) as app:
        done = [(await ask(app.manager, slack(f"question {n}", f"t{n}")))[1] for n in range(3)]
        statuses = [d.status if d else None for d in done]
        assert statuses == [ReplyStatus.ANSWERED, ReplyStatus.ANSWERED, ReplyStatus.REFUSED]
        last = done[2]
        assert last is not None and "at most 2 a minute" in last.text
        assert len(fake_openai.requests) == 2  # the third never reached the model
        # The console is the operator's terminal: a script may pipe in as many questions as it likes.
        for n in range(3):
            _, piped = await ask(app.manager, message(f"piped {n}"))
            assert piped is not None and piped.status is ReplyStatus.ANSWERED


async def test_two_instances_on_one_database_share_the_rate_limit(
    make_config: ConfigFactory, fake_openai: FakeOpenAI
) -> None:
    config = make_config("[limits]\nuser_messages_per_minute = 2\n")  # both on the same bot.db
    async with running_app(config) as one, running_app(config) as two:
        done = [
            (await ask(app.manager, slack(f"question {n}", f"t{n}")))[1]
            for n, app in enumerate([one, two, one, two])
        ]
        statuses = [d.status if d else None for d in done]
        assert statuses == [
            ReplyStatus.ANSWERED,
            ReplyStatus.ANSWERED,
            ReplyStatus.REFUSED,
            ReplyStatus.REFUSED,
        ]
        assert len(fake_openai.requests) == 2


async def test_an_overlong_message_is_refused_before_the_model(
    make_config: ConfigFactory, fake_openai: FakeOpenAI
) -> None:
    async with running_app(make_config("[limits]\nmax_message_chars = 500\n")) as app:
        _, done = await ask(app.manager, message("x" * 900))
        assert done is not None and done.status is ReplyStatus.REFUSED
        assert "900 characters long" in done.text and "at most 500" in done.text
        _, fine = await ask(app.manager, message("a short one"))
        assert fine is not None and fine.status is ReplyStatus.ANSWERED
        assert len(fake_openai.requests) == 1


async def test_answers_at_once_cannot_all_pass_the_daily_budget(
    make_config: ConfigFactory, fake_openai: FakeOpenAI
) -> None:
    # gpt-4o's worst case here is about $0.008 (800 answer tokens): two at once would pass $0.012.
    fake_openai.latency_s = 0.3  # all ten are asked while the first is still answering
    toml = '[llm]\nmodel = "gpt-4o"\ndaily_budget_usd = 0.012\n[limits]\nuser_messages_per_minute = 0\n'
    async with running_app(make_config(toml)) as app:
        done = await asyncio.gather(*(ask(app.manager, slack(f"q {n}", f"b{n}")) for n in range(10)))
        texts = [d.text for _, d in done if d is not None]
        assert len(fake_openai.requests) == 1  # one reservation fitted; the rest waited for none
        assert sum(t.startswith("I've reached today's answering budget") for t in texts) == 9


def from_user(user: str, text: str, thread: str) -> IncomingMessage:
    return replace(slack(text, thread), user_id=user)


async def test_one_user_asking_at_once_cannot_pass_their_daily_cap_and_others_are_still_answered(
    make_config: ConfigFactory, fake_openai: FakeOpenAI
) -> None:
    # gpt-4o's worst case here is about $0.008 (800 answer tokens): two at once would pass $0.012.
    fake_openai.latency_s = 0.3  # all are asked while the first is still answering
    toml = '[llm]\nmodel = "gpt-4o"\n[limits]\nuser_daily_usd = 0.012\nuser_messages_per_minute = 0\n'
    async with running_app(make_config(toml)) as app:
        asked = [from_user("UADA", f"q {n}", f"a{n}") for n in range(10)]
        asked.append(from_user("UBOB", "my own question", "b0"))
        done = [d for _, d in await asyncio.gather(*(ask(app.manager, m) for m in asked))]
        assert len(fake_openai.requests) == 2  # one of Ada's ten, and Bob's
        bob = done[-1]
        assert bob is not None and bob.status is ReplyStatus.ANSWERED
        refused = [d for d in done[:-1] if d is not None and d.status is ReplyStatus.FAILED]
        assert len(refused) == 9
        assert all(d.text.startswith("You've reached today's limit of written answers") for d in refused)
        conv = await app.store.find_conversation(asked[0].key)
        later = await app.store.find_conversation(asked[9].key)
        stored = [await app.store.messages(c.id, 1) for c in (conv, later) if c is not None]
        errors = {m[0].error for m in stored}
        assert errors <= {None, "user_budget"} and "user_budget" in errors


async def test_a_user_past_their_daily_cap_stays_past_it_after_a_restart(
    make_config: ConfigFactory, fake_openai: FakeOpenAI
) -> None:
    fake_openai.reply = lambda _: " ".join(["word"] * 200)  # 200 answer tokens: $0.002 with gpt-4o
    toml = '[llm]\nmodel = "gpt-4o"\n[limits]\nuser_daily_usd = 0.001\n'
    async with running_app(make_config(toml)) as app:
        _, first = await ask(app.manager, from_user("UADA", "one", "a1"))
        _, second = await ask(app.manager, from_user("UADA", "two", "a2"))
        assert first is not None and first.status is ReplyStatus.ANSWERED
        assert second is not None and second.status is ReplyStatus.FAILED
    async with running_app(make_config(toml)) as app:  # Ada's spend is read back from the database
        _, third = await ask(app.manager, from_user("UADA", "three", "a3"))
        _, bob = await ask(app.manager, from_user("UBOB", "mine", "b1"))
        assert third is not None and third.text.startswith("You've reached today's limit")
        assert bob is not None and bob.status is ReplyStatus.ANSWERED
    assert len(fake_openai.requests) == 2


async def test_a_model_without_a_price_is_capped_in_tokens_even_when_answers_run_at_once(
    make_config: ConfigFactory, fake_openai: FakeOpenAI
) -> None:
    # Each call reserves its prompt (~30 tokens) plus max_tokens 800: two at once don't fit in 1,500.
    fake_openai.latency_s = 0.3
    fake_openai.reply = lambda _: " ".join(["word"] * 750)  # about 765 tokens used per answer
    toml = '[llm]\nmodel = "house-model"\n[limits]\ndaily_tokens = 1500\nuser_messages_per_minute = 0\n'
    async with running_app(make_config(toml)) as app:
        done = await asyncio.gather(*(ask(app.manager, from_user(f"U{n}", "q", f"t{n}")) for n in range(10)))
        assert len(fake_openai.requests) == 1
        texts = [d.text for _, d in done if d is not None]
        assert sum(t.startswith("I've reached today's answering budget") for t in texts) == 9
        fake_openai.latency_s = 0.0
        _, alone = await ask(app.manager, from_user("U1", "again", "s1"))  # ~765 used: one more may start
        _, past = await ask(app.manager, from_user("U2", "and again", "s2"))  # ~1,530 used: over the cap
        assert alone is not None and alone.status is ReplyStatus.ANSWERED
        assert past is not None and past.text.startswith("I've reached today's answering budget")
        assert len(fake_openai.requests) == 2


async def test_a_model_without_a_price_is_named_once_at_start(
    make_config: ConfigFactory, fake_openai: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        async with running_app(make_config('[llm]\nmodel = "house-model"\n')):
            pass
        async with running_app(make_config('[llm]\nmodel = "gpt-4o"\n')):
            pass
    warned = [r.getMessage() for r in caplog.records if "has no price" in r.getMessage()]
    assert warned == [
        "llm.model 'house-model' has no price in [models]: llm.daily_budget_usd and"
        " limits.user_daily_usd can't apply, answers are capped by limits.daily_tokens"
        " = 2,000,000 tokens a day"
    ]
