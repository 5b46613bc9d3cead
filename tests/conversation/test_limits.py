"""Per-user limits: past them the user is told politely and no model is called (never silence)."""

from __future__ import annotations

from bot.app import running_app
from bot.events import ReplyStatus
from tests.conftest import ConfigFactory
from tests.fakes.openai_server import FakeOpenAI
from tests.helpers import ask, message


async def test_a_user_over_the_rate_limit_is_told_to_wait_and_costs_no_model_call(
    make_config: ConfigFactory, fake_openai: FakeOpenAI
) -> None:
    async with running_app(make_config("[limits]\nuser_messages_per_minute = 2\n")) as app:
        done = [(await ask(app.manager, message(f"question {n}", thread=f"t{n}")))[1] for n in range(3)]
        statuses = [d.status if d else None for d in done]
        assert statuses == [ReplyStatus.ANSWERED, ReplyStatus.ANSWERED, ReplyStatus.REFUSED]
        last = done[2]
        assert last is not None and "at most 2 a minute" in last.text
        assert len(fake_openai.requests) == 2  # the third never reached the model


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
