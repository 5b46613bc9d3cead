"""Per-user limits: past them the user is told politely and no model is called (never silence)."""

from __future__ import annotations

import asyncio
from dataclasses import replace

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
