"""Moderation: a flagged message is refused politely, recorded, and never reaches the chat model; an
endpoint that fails lets messages through (or refuses them) as moderation.on_error says."""

from __future__ import annotations

import logging

import pytest

from bot.app import App, running_app
from bot.events import ReplyStatus
from bot.storage.store import MessageStatus
from tests.conftest import ConfigFactory
from tests.fakes.openai_server import FakeOpenAI
from tests.helpers import ask, message

ON = "[moderation]\nenabled = true\n"


async def inbound_error(app: App, thread: str = "t1") -> tuple[MessageStatus, str | None]:
    conv = await app.store.find_conversation(message("x", thread=thread).key)
    assert conv is not None
    first = (await app.store.messages(conv.id, 10))[0]
    return first.status, first.error


async def test_a_flagged_message_is_refused_recorded_and_never_sent_to_the_chat_model(
    make_config: ConfigFactory, fake_openai: FakeOpenAI
) -> None:
    fake_openai.flagged_words = {"grrr"}
    async with running_app(make_config(ON + '[privacy]\nredact = "logs+llm"\n')) as app:
        _, done = await ask(app.manager, message("grrr, you useless bot, mail ada@example.com", "t1"))
        assert done is not None and done.status is ReplyStatus.REFUSED
        assert done.text.startswith("Sorry, I can't respond to that message.")
        assert await inbound_error(app, "t1") == (MessageStatus.FAILED, "moderated")
        assert fake_openai.requests == []
        _, fine = await ask(app.manager, message("how do I reset my password?", "t2"))
        assert fine is not None and fine.status is ReplyStatus.ANSWERED
    assert len(fake_openai.requests) == 1
    checked = fake_openai.moderation_requests
    assert [c["model"] for c in checked] == ["omni-moderation-latest"] * 2
    assert checked[0]["input"] == "grrr, you useless bot, mail [email]"  # redacted like the chat request
    # The chat model's own client: the same key goes to both endpoints.
    assert {c.authorization for c in fake_openai.calls} == {"Bearer sk-test-not-a-real-key"}


async def test_without_the_setting_nothing_is_moderated(
    make_config: ConfigFactory, fake_openai: FakeOpenAI
) -> None:
    fake_openai.flagged_words = {"grrr"}
    async with running_app(make_config()) as app:
        _, done = await ask(app.manager, message("grrr"))
    assert done is not None and done.status is ReplyStatus.ANSWERED
    assert fake_openai.moderation_requests == []


@pytest.mark.parametrize("fault", ["500", "404", "malformed", "hang"])
async def test_a_failing_endpoint_lets_messages_through_with_one_log_line(
    make_config: ConfigFactory, fake_openai: FakeOpenAI, caplog: pytest.LogCaptureFixture, fault: str
) -> None:
    fake_openai.fail_moderation_next(fault, times=3)
    toml = ON + "timeout_s = 0.3\n[llm]\nmax_retries = 0\n"
    with caplog.at_level(logging.INFO):
        async with running_app(make_config(toml)) as app:
            done = [(await ask(app.manager, message(f"question {n}", f"t{n}")))[1] for n in range(3)]
    assert [d.status if d else None for d in done] == [ReplyStatus.ANSWERED] * 3
    assert len(fake_openai.requests) == 3
    lines = [r for r in caplog.records if r.name == "bot.llm.moderation"]
    assert len(lines) == 1  # three failures, one line a minute
    assert lines[0].levelno == logging.WARNING and "answering unchecked" in lines[0].getMessage()
    assert not any(r.exc_info for r in caplog.records)


async def test_a_failing_endpoint_refuses_when_so_configured(
    make_config: ConfigFactory, fake_openai: FakeOpenAI
) -> None:
    fake_openai.fail_moderation_next("500")
    async with running_app(make_config(ON + 'on_error = "refuse"\n[llm]\nmax_retries = 0\n')) as app:
        _, done = await ask(app.manager, message("hello", "t1"))
        assert done is not None and done.status is ReplyStatus.REFUSED
        assert "can't check messages right now" in done.text
        assert await inbound_error(app, "t1") == (MessageStatus.FAILED, "moderation_unavailable")
        _, later = await ask(app.manager, message("hello again", "t2"))  # the endpoint is back
        assert later is not None and later.status is ReplyStatus.ANSWERED
    assert len(fake_openai.requests) == 1
