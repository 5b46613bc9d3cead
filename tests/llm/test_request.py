"""What the chat completion request carries from settings: sampling (temperature, top_p) and stop
sequences, as the fake OpenAI server received them from the real openai SDK."""

from __future__ import annotations

from bot.app import running_app
from tests.conftest import ConfigFactory
from tests.fakes.openai_server import FakeOpenAI
from tests.helpers import ask, message


async def test_sampling_and_stop_sequences_come_from_settings(
    make_config: ConfigFactory, fake_openai: FakeOpenAI
) -> None:
    config = make_config('[llm]\ntemperature = 0.7\ntop_p = 0.9\nstop = ["\\nUser:", "END"]\n')
    async with running_app(config) as app:
        _, done = await ask(app.manager, message("how do I export my data"))
    assert done is not None
    [request] = fake_openai.requests
    assert (request["temperature"], request["top_p"]) == (0.7, 0.9)
    assert request["stop"] == ["\nUser:", "END"]


async def test_the_defaults_are_sent_and_no_stop_sequence_when_none_is_set(
    make_config: ConfigFactory, fake_openai: FakeOpenAI
) -> None:
    async with running_app(make_config()) as app:
        await ask(app.manager, message("hello"))
    [request] = fake_openai.requests
    assert (request["temperature"], request["top_p"]) == (0.3, 1.0)
    assert "stop" not in request
