"""Bad input on Discord: a malformed gateway dispatch is logged in one line and skipped (the connection
stays up), and a lone surrogate in a message is repaired, stored and answered.

The real discord.py client against the fake gateway and REST API, SQLite and the fake OpenAI server.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from tests.adapters.discord.test_adapter import DM, ask_dm, dm_key, serving
from tests.conftest import ConfigFactory
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI

Payload = dict[str, Any]


def malformed(fake: FakeDiscord) -> list[tuple[str, Any]]:
    """Dispatches discord.py's parsers choke on: required fields missing, or of the wrong type."""
    good = fake.dm_message("never seen", channel_id=DM)
    no_author = {k: v for k, v in good.items() if k != "author"}
    no_channel = {k: v for k, v in good.items() if k != "channel_id"}
    return [
        ("MESSAGE_CREATE", {"id": str(fake.next_id())}),
        ("MESSAGE_CREATE", no_author),
        ("MESSAGE_CREATE", no_channel),
        ("MESSAGE_CREATE", good | {"id": str(fake.next_id()), "author": "Ada"}),
        ("MESSAGE_CREATE", good | {"id": "not-a-snowflake"}),
        ("MESSAGE_CREATE", good | {"id": str(fake.next_id()), "mentions": 5}),
        ("MESSAGE_CREATE", None),
        ("MESSAGE_CREATE", ["a", "list"]),
        ("MESSAGE_UPDATE", {"id": str(fake.next_id()), "channel_id": "nope"}),
        ("THREAD_CREATE", {"id": "nope", "type": 11}),
    ]


async def test_malformed_dispatches_are_logged_in_one_line_each_and_later_messages_are_answered(
    make_config: ConfigFactory,
    fake_openai: FakeOpenAI,
    fake_discord: FakeDiscord,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake = fake_discord
    async with serving(make_config()):
        await ask_dm(fake, "before", 1)
        probes = malformed(fake)
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            for event, data in probes:
                await fake.dispatch(event, data)
            answers = await ask_dm(fake, "still there?", 2)
        assert "still there?" in answers[1]["content"]
        assert len(fake.identifies) == 1  # the same connection: no reconnect, no new session
    # One line each: "skipped a malformed … dispatch" from the parser, or "on_message failed" for a
    # message discord.py let through without an author.
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("adapters.discord")]
    assert len(ours) == len(probes), ours
    assert sum("malformed" in line for line in ours) >= len(probes) - 1
    assert all("\n" not in r.getMessage() and r.exc_info is None for r in caplog.records)
    assert not any("offline" in r.getMessage() for r in caplog.records)


async def test_a_lone_surrogate_in_a_dm_is_repaired_stored_and_answered(
    make_config: ConfigFactory, fake_openai: FakeOpenAI, fake_discord: FakeDiscord
) -> None:
    """json.dumps writes the lone surrogate as the escape "\\ud800", as a broken client would send it."""
    async with serving(make_config()) as app:
        answers = await ask_dm(fake_discord, "caf\ud800 price?", 1, name="Ad\udc00a")
        assert answers[0]["content"] == "Echo (2 messages): caf\ufffd price?"
        conv = await app.store.find_conversation(dm_key())
        assert conv is not None
        [question, _] = await app.store.messages(conv.id, 10)
        assert (question.text, question.user_name) == ("caf\ufffd price?", "Ad\ufffda")
