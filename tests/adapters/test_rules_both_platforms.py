"""The core's rules for adapters, the same on every platform: one test each, run on Slack and on Discord.

Each platform is driven end to end through its fake (signed Slack requests; Discord gateway
dispatches), by a small driver that knows only how that platform's payloads look.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any, Protocol

import pytest

from adapters.discord.adapter import DiscordAdapter
from adapters.slack.blocks import FEEDBACK_ACTION, HUMAN_ACTION
from bot.app import App, running_app
from bot.events import ThreadKey
from bot.service import NOT_STAFF_RESOLVE, OFFER_AFTER_DOWNVOTE
from bot.storage.store import EscalationRecord
from tests.adapters.discord.test_adapter import DM as DISCORD_DM
from tests.adapters.discord.test_adapter import ask_dm, custom_ids
from tests.adapters.slack.test_adapter import DM as SLACK_DM
from tests.adapters.slack.test_adapter import USER as SLACK_USER
from tests.adapters.slack.test_adapter import button_values, wait_answers
from tests.conftest import ConfigFactory
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.slack_server import TEAM, block_action, message
from tests.helpers import Bot, BotFactory, staff_channel_toml

SLACK_STAFF = "U0STAFF"
DISCORD_USER, DISCORD_STAFF = 900, 7_000_000_000_000_000_900
STAFF_TOML = f'[escalation]\nstaff_user_ids = ["{SLACK_STAFF}", "{DISCORD_STAFF}"]\n' + staff_channel_toml()


class Driver(Protocol):
    """One platform seen from its user's side: a DM with the bot, its buttons and commands."""

    app: App
    dm: ThreadKey

    async def ask(self, text: str) -> Any:
        """Write in the DM; returns the bot's answer once it is complete (with its buttons)."""
        ...

    async def vote_down(self, answer: Any) -> tuple[str, Any]:
        """Press 👎 under `answer`; returns what the user was told and the offer's button (or None)."""
        ...

    async def press(self, button: Any) -> str:
        """Press a button the bot offered privately; returns what the user was told."""
        ...

    async def command(self, name: str, *, staff: bool = False) -> str:
        """/escalate or /resolve typed in the DM (as staff: by a member of staff there)."""
        ...


class SlackDriver:
    def __init__(self, bot: Bot) -> None:
        self.app = bot.app
        self._bot = bot
        self.dm = ThreadKey("slack", TEAM, SLACK_DM, SLACK_DM)
        self._ts = 100

    async def ask(self, text: str) -> Any:
        self._ts += 1
        before = len(wait_answers_now(self._bot))
        await self._bot.send.event(message(text, channel=SLACK_DM, ts=f"{self._ts}.1", user=SLACK_USER))
        return (await wait_answers(self._bot.slack, SLACK_DM, None, before + 1))[-1]

    async def vote_down(self, answer: Any) -> tuple[str, Any]:
        value = button_values(answer)["down"]
        said = await self._click(FEEDBACK_ACTION, value, answer.ts)
        blocks = said.params.get("blocks")
        blocks = json.loads(blocks) if isinstance(blocks, str) else blocks or []
        offer = next(
            (e for b in blocks for e in b.get("elements", []) if e.get("action_id") == HUMAN_ACTION), None
        )
        return str(said.params["text"]), (offer["value"], answer.ts) if offer else None

    async def press(self, button: Any) -> str:
        value, ts = button
        return str((await self._click(HUMAN_ACTION, value, ts)).params["text"])

    async def command(self, name: str, *, staff: bool = False) -> str:
        user = SLACK_STAFF if staff else SLACK_USER
        _, body = await self._bot.send.command(f"/{name}", "", channel=SLACK_DM, user=user)
        return str(json.loads(body)["text"])

    async def _click(self, action: str, value: str, ts: str) -> Any:
        count = len(self._bot.slack.called("chat.postEphemeral"))
        press = block_action(action, value, user=SLACK_USER, channel=SLACK_DM, message_ts=ts, thread_ts=None)
        await self._bot.send.interaction(press)
        return (await self._bot.slack.wait_calls("chat.postEphemeral", count + 1))[-1]


def wait_answers_now(bot: Bot) -> list[Any]:
    return [m for m in bot.slack.thread(SLACK_DM, None) if m.blocks]


class DiscordDriver:
    def __init__(self, app: App, fake: FakeDiscord) -> None:
        self.app = app
        self._fake = fake
        self.dm = ThreadKey("discord", "", str(DISCORD_DM), str(DISCORD_DM))
        self._asked = 0

    async def ask(self, text: str) -> Any:
        self._asked += 1
        return (await ask_dm(self._fake, text, self._asked))[-1]

    async def vote_down(self, answer: Any) -> tuple[str, Any]:
        said = await self._interact(self._fake.click(answer, custom_ids(answer)[1], user_id=DISCORD_USER))
        ids = custom_ids(said) if said.get("components") else []
        return str(said["content"]), (said | {"channel_id": answer["channel_id"]}, ids[0]) if ids else None

    async def press(self, button: Any) -> str:
        message, custom_id = button
        return str(
            (await self._interact(self._fake.click(message, custom_id, user_id=DISCORD_USER)))["content"]
        )

    async def command(self, name: str, *, staff: bool = False) -> str:
        user = DISCORD_STAFF if staff else DISCORD_USER
        return str(
            (await self._interact(self._fake.slash(name, channel_id=DISCORD_DM, user_id=user)))["content"]
        )

    async def _interact(self, payload: dict[str, Any]) -> dict[str, Any]:
        count = len(self._fake.replies)
        await self._fake.dispatch("INTERACTION_CREATE", payload)
        await self._fake.wait_for(lambda: len(self._fake.replies) > count, what="the interaction's answer")
        return self._fake.replies[-1]


@asynccontextmanager
async def driving(
    name: str, toml: str, start_bot: BotFactory, make_config: ConfigFactory, fake_discord: FakeDiscord
) -> AsyncIterator[Driver]:
    if name == "slack":
        yield SlackDriver(await start_bot(toml))
        return
    async with AsyncExitStack() as stack:
        app = await stack.enter_async_context(running_app(make_config(toml)))
        adapter = DiscordAdapter(app.service, app.config, guild_ready_timeout_s=0.05)
        await adapter.start()
        stack.push_async_callback(adapter.close)
        yield DiscordDriver(app, fake_discord)


@pytest.fixture(params=["slack", "discord"])
async def platform(
    request: pytest.FixtureRequest,
    start_bot: BotFactory,
    make_config: ConfigFactory,
    fake_discord: FakeDiscord,
) -> AsyncIterator[Driver]:
    """The same user, DM and staff on one platform, with the bot running there."""
    async with driving(request.param, STAFF_TOML, start_bot, make_config, fake_discord) as driver:
        yield driver


@pytest.fixture(params=["slack", "discord"])
async def unstaffed(
    request: pytest.FixtureRequest,
    start_bot: BotFactory,
    make_config: ConfigFactory,
    fake_discord: FakeDiscord,
) -> AsyncIterator[Driver]:
    """The same, on a team that named staff but no staff channel for their cards."""
    toml = STAFF_TOML.split("[escalation.staff_channel]")[0]
    async with driving(request.param, toml, start_bot, make_config, fake_discord) as driver:
        yield driver


async def open_escalations(app: App) -> list[EscalationRecord]:
    return [record for record, _ in await app.store.open_escalations()]


async def test_a_thumbs_down_is_stored_and_answered_with_the_offer_of_a_person(platform: Driver) -> None:
    answer = await platform.ask("is my invoice paid?")
    text, offer = await platform.vote_down(answer)
    assert text == OFFER_AFTER_DOWNVOTE and offer is not None
    conv = await platform.app.store.find_conversation(platform.dm)
    assert conv is not None
    # Taking the offer escalates the answer's conversation, recorded the same way everywhere.
    assert "asked a person" in await platform.press(offer)
    [record] = await open_escalations(platform.app)
    assert (record.conversation_id, record.trigger, record.reason) == (
        conv.id,
        "feedback",
        "the answer didn't help",
    )


async def test_slash_escalate_in_a_dm_takes_that_dm_with_the_default_reason(platform: Driver) -> None:
    await platform.ask("hello")
    said = await platform.command("escalate")
    assert "asked a person" in said and said.endswith("(Escalated: this DM.)")
    [record] = await open_escalations(platform.app)
    assert (record.trigger, record.reason) == ("command", "asked with /escalate")


async def test_with_no_staff_channel_the_user_is_told_nobody_receives_it(unstaffed: Driver) -> None:
    await unstaffed.ask("hello")
    said = await unstaffed.command("escalate")
    assert "asked a person" not in said
    assert said.startswith("Nobody on the team is set up to receive requests for a person here")
    assert "`supportbot escalations claim 1`" in said
    [record] = await open_escalations(unstaffed.app)
    assert record.state == "waiting"


async def test_slash_resolve_is_for_staff_and_takes_the_one_open_escalation_there(platform: Driver) -> None:
    await platform.ask("hello")
    await platform.command("escalate")
    assert await platform.command("resolve") == NOT_STAFF_RESOLVE
    assert len(await open_escalations(platform.app)) == 1
    assert (await platform.command("resolve", staff=True)).startswith("Resolved")
    assert await open_escalations(platform.app) == []
    conv = await platform.app.store.find_conversation(platform.dm)
    assert conv is not None and conv.state == "bot"
