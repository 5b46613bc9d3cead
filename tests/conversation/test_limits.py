"""Per-user limits: past them the user is told politely and no model is called (never silence)."""

from __future__ import annotations

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
