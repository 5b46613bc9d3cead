"""A seeded fuzz of hostile interaction payloads (slash commands and button presses with fields missing,
of the wrong type or out of range) through the fake Discord gateway: no traceback in the log, a few
rate-limited lines at most, the connection kept, and the bot still answering.

The real discord.py client against the fake gateway and REST API, SQLite and the fake OpenAI server.
"""

from __future__ import annotations

import copy
import logging
import random
from typing import Any

import pytest

from adapters.discord.client import UNREADABLE
from adapters.discord.payloads import QuietLog
from tests.adapters.discord.test_adapter import DM, ask_dm, custom_ids, finished, serving
from tests.conftest import ConfigFactory
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI

Payload = dict[str, Any]
SEED = 12
PAYLOADS = 2000
# Values a hostile or broken client sends where another type belongs.
JUNK: tuple[Any, ...] = (
    None,
    True,
    0,
    -1,
    2**64,
    10**400,
    1.5,
    "",
    "not-a-snowflake",
    "²",
    "9" * 5000,
    "\ud800",
    [],
    ["a"],
    {},
    {"id": "1"},
)
CUSTOM_IDS = (
    "supportbot:up:{reply}",
    "supportbot:down:{reply}",
    "supportbot:human:{reply}",
    "supportbot:feedback:{reply}",
    "supportbot:up:0",
    "supportbot:up:99999999999999999999999999",
    "supportbot:claim:1",
    "supportbot:resolve:999999",
    "supportbot:rate:1:5",
    "supportbot:rate:1:9",
    "supportbot:up:",
    "supportbot:",
    "",
    "x" * 200,
)


def _mutate(rng: random.Random, value: Any, depth: int = 0) -> Any:
    """`value` with one field dropped, replaced by junk, or mutated further down."""
    if not isinstance(value, dict) or not value or depth > 3:
        return rng.choice(JUNK)
    key = rng.choice(sorted(value))
    roll = rng.random()
    if roll < 0.3:
        del value[key]
    elif roll < 0.65:
        value[key] = rng.choice(JUNK)
    elif isinstance(value[key], list) and value[key] and isinstance(value[key][0], dict):
        value[key][0] = _mutate(rng, value[key][0], depth + 1)
    else:
        value[key] = _mutate(rng, value[key], depth + 1)
    return value


def hostile(fake: FakeDiscord, rng: random.Random, answer: Payload, reply_id: int) -> Payload:
    """A valid slash command or button press, then one to three mutations."""
    who: dict[str, Any] = rng.choice([{}, {"roles": []}, {"roles": [fake.staff_role_id], "user_id": 903}])
    kind = rng.randrange(5)
    if kind == 0:
        options = rng.choice([None, {"reason": "refund"}, {"reason": rng.choice(JUNK)}, {"other": "x"}])
        command = rng.choice(["escalate", "resolve", "help", "nope"])
        payload = fake.slash(
            command, channel_id=DM if "roles" not in who else fake.channel_id, options=options
        )
    else:
        custom_id = rng.choice(CUSTOM_IDS).format(reply=reply_id)
        payload = fake.click(answer, custom_id, **who)
        if rng.random() < 0.2:
            payload["data"]["component_type"] = rng.choice([3, 4, 99, "2", None])
    if rng.random() < 0.1:
        payload["type"] = rng.choice([1, 4, 5, 99, "3", None])
    for _ in range(rng.randint(1, 3)):
        payload = _mutate(rng, payload)
    return payload


async def test_hostile_interactions_leave_no_traceback_and_the_bot_answering(
    make_config: ConfigFactory,
    fake_openai: FakeOpenAI,
    fake_discord: FakeDiscord,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake = fake_discord
    rng = random.Random(SEED)
    async with serving(make_config()):
        [answer] = await ask_dm(fake, "is this helpful?", 1)
        reply_id = int(custom_ids(answer)[0].rsplit(":", 1)[1])
        caplog.clear()
        with caplog.at_level(logging.INFO):
            for _ in range(PAYLOADS):
                await fake.dispatch("INTERACTION_CREATE", hostile(fake, rng, copy.deepcopy(answer), reply_id))
            # In another DM: the fuzz's own /escalate may have left the first one to staff.
            other = DM + 1
            await fake.dispatch("MESSAGE_CREATE", fake.dm_message("still there?", channel_id=other))
            await fake.wait_for(lambda: finished(fake, other), what="the answer in another DM")
        assert "still there?" in fake.sent_to(other)[-1]["content"]
        assert len(fake.identifies) == 1  # the same connection throughout
    tracebacks = [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]
    assert not tracebacks, tracebacks[0].getMessage()
    # Rate-limited: a burst of lines per kind of problem, the rest counted, never one per payload.
    ours = [r for r in caplog.records if r.name.startswith("adapters.discord")]
    assert 0 < len(ours) <= 3 * QuietLog().burst, "\n".join(r.getMessage()[:200] for r in ours[:50])
    assert all("\n" not in r.getMessage() for r in ours)
    # What was well-formed enough to answer was answered privately; a command it couldn't run, too.
    assert fake.replies and all(r["flags"] & 64 for r in fake.replies)
    assert any(r["content"] == UNREADABLE for r in fake.replies)


async def test_a_command_the_bot_cannot_run_is_answered_privately_and_a_broken_one_ignored(
    make_config: ConfigFactory,
    fake_openai: FakeOpenAI,
    fake_discord: FakeDiscord,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake = fake_discord
    async with serving(make_config()):
        await fake.wait_connected()
        with caplog.at_level(logging.WARNING):
            await fake.dispatch("INTERACTION_CREATE", fake.slash("refund-me", channel_id=DM))
            await fake.wait_for(lambda: fake.replies, what="the answer to an unknown command")
            broken = fake.slash("help", channel_id=DM) | {"token": "\ud800"}  # unusable in a URL
            await fake.dispatch("INTERACTION_CREATE", broken)
            await fake.dispatch("INTERACTION_CREATE", fake.slash("help", channel_id=DM))
            await fake.wait_for(lambda: len(fake.replies) == 2, what="the answer to /help")
    [unknown, helped] = fake.replies
    assert unknown["content"] == UNREADABLE and unknown["flags"] & 64
    assert helped["content"].startswith("I answer questions")
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("adapters.discord")]
    assert lines == [
        "Discord: could not run command 'refund-me': CommandNotFound:"
        " Application command 'refund-me' not found",
        f"Discord: ignored an interaction {broken['id']}: token missing or of the wrong type",
    ]
    assert not any(r.exc_info for r in caplog.records)
