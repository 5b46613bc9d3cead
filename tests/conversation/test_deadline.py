"""One deadline per answer: a model that hangs, stalls or keeps failing ends in the fallback (the best
passages and the offer of a person) within llm.answer_deadline_s, never minutes of silence.

The default llm.timeout_s (60 s) and max_retries (2) stay on: without the deadline each of these
tests would wait about three minutes. Each waits at most 10 s for an answer due after 1 s.
"""

from __future__ import annotations

import asyncio
import io
from contextlib import aclosing
from pathlib import Path

from adapters.console.adapter import ConsoleAdapter
from bot.app import running_app
from bot.events import ReplyDone, ReplyStatus, TextDelta
from bot.storage.store import MessageStatus
from tests.conftest import ConfigFactory
from tests.conversation.test_grounding import KB_TOML, write_kb
from tests.fakes.openai_server import FakeOpenAI
from tests.helpers import ask, message

DEADLINE = "[llm]\nanswer_deadline_s = 1.0\n"
TOO_LONG = "Sorry, the answer took too long to arrive."
QUESTION = "how do I export my boards to CSV"


async def test_a_hanging_model_gets_the_passages_and_a_person_within_the_deadline(
    make_config: ConfigFactory, fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    write_kb(tmp_path)
    fake_openai.fail_next("hang", times=3)  # every attempt the SDK would make
    async with running_app(make_config(KB_TOML + DEADLINE, kb=True)) as app:
        async with asyncio.timeout(10):
            _, done = await ask(app.manager, message(QUESTION))
        assert done is not None and done.status is ReplyStatus.FAILED
        assert done.text.startswith(f"{TOO_LONG} Meanwhile, these passages from our help center")
        assert "download a CSV file" in done.text and "/escalate" in done.text
        conv = await app.store.find_conversation(message("x").key)
        assert conv is not None
        inbound = (await app.store.messages(conv.id, 5))[0]
        assert (inbound.status, inbound.error) == (MessageStatus.FAILED, "deadline")
        # The next message is answered as usual.
        fake_openai.faults.clear()
        async with asyncio.timeout(10):
            _, later = await ask(app.manager, message("again"))
    assert later is not None and later.status is ReplyStatus.ANSWERED


async def test_the_deadline_covers_the_sdk_retries(
    make_config: ConfigFactory, fake_openai: FakeOpenAI
) -> None:
    """Each attempt fails fast (500) but the SDK's backoff keeps retrying: the deadline ends it."""
    fake_openai.fail_next("500", times=11)
    toml = "[llm]\nanswer_deadline_s = 1.0\nmax_retries = 10\n"
    async with running_app(make_config(toml)) as app:
        async with asyncio.timeout(10):
            _, done = await ask(app.manager, message("hello"))
        assert done is not None and done.status is ReplyStatus.FAILED
        assert done.text.startswith(TOO_LONG) and "/escalate" in done.text
    assert 1 < len(fake_openai.requests) < 11  # it was retried, and cut short


async def test_text_streamed_before_the_deadline_is_replaced_by_the_fallback(
    make_config: ConfigFactory, fake_openai: FakeOpenAI
) -> None:
    fake_openai.fail_next("stall")  # the first words, then nothing
    async with running_app(make_config(DEADLINE)) as app:
        async with asyncio.timeout(10):
            events, done = await ask(app.manager, message("tell me everything"))
    streamed = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert streamed == "Echo (2 messages):"
    assert done is not None and done.status is ReplyStatus.FAILED
    assert done.text.startswith(TOO_LONG) and "Echo" not in done.text


async def test_the_console_shows_the_fallback_after_a_stalled_answer(
    make_config: ConfigFactory, fake_openai: FakeOpenAI
) -> None:
    fake_openai.fail_next("stall")
    out = io.StringIO()
    async with running_app(make_config(DEADLINE)) as app:
        console = ConsoleAdapter(
            thread="c1",
            user_name="ada",
            stdin=io.StringIO("tell me everything\n"),
            stdout=out,
            interactive=False,
            bot_name="Supportbot",
            service=app.service,
        )
        async with asyncio.timeout(10):
            await console.run()
    assert out.getvalue() == (
        f"Echo (2 messages):\n{TOO_LONG} If you'd like, I can bring in a person from the team:"
        " type /escalate.\n"
    )


async def test_the_deadline_counts_every_wait_for_the_model_in_all(
    make_config: ConfigFactory, fake_openai: FakeOpenAI
) -> None:
    """Each chunk comes well within the deadline, but the answer as a whole would not."""
    fake_openai.chunk_words, fake_openai.chunk_delay_s = 1, 0.4  # 6 chunks: 2 s in all
    async with running_app(make_config(DEADLINE)) as app:
        async with asyncio.timeout(10):
            events, done = await ask(app.manager, message("one two three"))
        assert 1 < len(events) < 6  # some words streamed, then the fallback
        assert done is not None and done.status is ReplyStatus.FAILED
        assert done.text.startswith(TOO_LONG)
        conv = await app.store.find_conversation(message("x").key)
        assert conv is not None
        assert (await app.store.messages(conv.id, 5))[0].error == "deadline"


async def test_a_rate_limit_then_an_answer_within_the_deadline_answers_normally(
    make_config: ConfigFactory, fake_openai: FakeOpenAI
) -> None:
    fake_openai.fail_next("429")
    async with running_app(make_config("[llm]\nanswer_deadline_s = 5.0\n")) as app:
        async with asyncio.timeout(10):
            _, done = await ask(app.manager, message("hello"))
    assert done is not None and done.status is ReplyStatus.ANSWERED
    assert done.text == "Echo (2 messages): hello"
    assert len(fake_openai.requests) == 2


async def test_only_the_waits_for_the_model_count_not_the_adapters_work(
    make_config: ConfigFactory, fake_openai: FakeOpenAI
) -> None:
    """An adapter that takes longer than the deadline to show the chunks is neither cancelled in
    its own work nor given the fallback instead of the model's answer: of each 0.3 s between two
    chunks it spends 0.25 s showing the last one, so the answer takes ~1.8 s, ~0.3 s of it waiting."""
    fake_openai.chunk_words, fake_openai.chunk_delay_s = 1, 0.3
    deltas: list[str] = []
    async with (
        running_app(make_config(DEADLINE)) as app,
        asyncio.timeout(10),
        aclosing(app.manager.handle(message("one two three"))) as events,
    ):
        async for event in events:
            if isinstance(event, TextDelta):
                deltas.append(event.text)
                await asyncio.sleep(0.25)  # showing it
            elif isinstance(event, ReplyDone):
                done = event
    assert len(deltas) == 6
    assert done.status is ReplyStatus.ANSWERED and done.text == "Echo (2 messages): one two three"
