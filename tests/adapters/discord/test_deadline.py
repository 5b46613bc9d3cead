"""Signs of life and the answer deadline on Discord: "typing…" stays up while the model is slow or
retried, and a model that hangs or stalls ends in the fallback, never minutes of silence."""

from __future__ import annotations

import asyncio
import itertools

from tests.adapters.discord.test_adapter import DM, ask_dm, serving
from tests.conftest import ConfigFactory
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI

TYPING = rf"/channels/{DM}/typing"
POSTS = rf"/channels/{DM}/messages"
TOO_LONG = "Sorry, the answer took too long to arrive."


def typing_until_the_first_post(fake: FakeDiscord) -> list[float]:
    """When each "typing…" call arrived before the answer's first message."""
    first = fake.find("POST", POSTS)[0].at
    return [c.at for c in fake.find("POST", TYPING) if c.at < first] + [first]


async def test_typing_stays_up_while_the_model_is_retried_and_slow(
    make_config: ConfigFactory, fake_openai: FakeOpenAI, fake_discord: FakeDiscord
) -> None:
    fake_openai.fail_next("429")  # the SDK waits and asks again
    fake_openai.latency_s = 1.0  # then the model takes its time
    async with serving(make_config(), typing_refresh_s=0.1):
        async with asyncio.timeout(10):
            (answer,) = await ask_dm(fake_discord, "hello", 1)
    assert answer["content"].startswith("Echo (2 messages): hello")
    assert len(fake_openai.requests) == 2
    times = typing_until_the_first_post(fake_discord)
    assert len(times) > 6  # renewed all along, not shown once
    assert max(b - a for a, b in itertools.pairwise(times)) < 0.6  # and never let lapse


async def test_a_hanging_model_gets_the_fallback_within_the_deadline_with_typing_until_then(
    make_config: ConfigFactory, fake_openai: FakeOpenAI, fake_discord: FakeDiscord
) -> None:
    fake_openai.fail_next("hang", times=3)  # every attempt of the default timeout_s 60, max_retries 2
    async with serving(make_config("[llm]\nanswer_deadline_s = 1.0\n"), typing_refresh_s=0.1):
        async with asyncio.timeout(10):
            (answer,) = await ask_dm(fake_discord, "hello", 1)
    assert answer["content"].startswith(TOO_LONG) and "bring in a person" in answer["content"]
    assert len(typing_until_the_first_post(fake_discord)) > 4


async def test_text_shown_before_the_deadline_is_replaced_by_the_fallback(
    make_config: ConfigFactory, fake_openai: FakeOpenAI, fake_discord: FakeDiscord
) -> None:
    fake_openai.fail_next("stall")  # the first words, then nothing
    async with serving(make_config("[llm]\nanswer_deadline_s = 1.0\n")):
        async with asyncio.timeout(10):
            (answer,) = await ask_dm(fake_discord, "tell me everything", 1)
    assert fake_discord.find("POST", POSTS)[0].body["content"].startswith("Echo (2 messages):")
    assert answer["content"].startswith(TOO_LONG) and "Echo" not in answer["content"]
