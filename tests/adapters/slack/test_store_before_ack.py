"""Slack hears that a message arrived only once it is stored: the HTTP 200 and the Socket Mode ack
come after the row exists, however slow Slack's own API is for the name lookup that follows."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.slack.adapter import SlackAdapter
from bot.app import App, running_app
from bot.events import ThreadKey
from tests.conftest import ConfigFactory
from tests.fakes.slack_server import TEAM, FakeSlack, event_callback, message
from tests.helpers import BotFactory

DM, USER = "D0ADA", "U0ADA"
KEY = ThreadKey("slack", TEAM, DM, DM)


async def stored_texts(app: App) -> list[str]:
    conv = await app.store.find_conversation(KEY)
    return [m.text for m in await app.store.messages(conv.id, 10)] if conv is not None else []


async def test_the_http_200_comes_after_the_message_is_stored(
    start_bot: BotFactory, fake_slack: FakeSlack
) -> None:
    fake_slack.latency["users.info"] = 3.0  # the name lookup is slow; it must not hold up the ack
    bot = await start_bot()
    assert await bot.send.event(message("stored yet?", channel=DM, ts="700.1", user=USER)) == 200
    assert await stored_texts(bot.app) == ["stored yet?"]  # at once: nothing of the bot ran since


async def test_the_socket_mode_ack_comes_after_the_message_is_stored(
    make_config: ConfigFactory, fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", fake_slack.token)
    monkeypatch.setenv("SLACK_APP_TOKEN", fake_slack.app_token)
    monkeypatch.setenv("SLACK_API_URL", fake_slack.api_url)
    monkeypatch.delenv("SLACK_SIGNING_SECRET", raising=False)
    fake_slack.latency["users.info"] = 3.0
    seen_at_ack: dict[str, list[str]] = {}
    async with running_app(make_config()) as app:

        async def look(ack: dict[str, Any]) -> None:
            seen_at_ack[ack["envelope_id"]] = await stored_texts(app)

        fake_slack.on_socket_ack = look
        adapter = SlackAdapter(app.service, app.config, mode="socket")
        await adapter.start()
        try:
            sent = await fake_slack.socket_send(
                "events_api",
                event_callback(message("over the socket", channel=DM, ts="710.1", user=USER), "E1"),
            )
            await fake_slack.wait_for(lambda: sent in seen_at_ack, what="the ack")
        finally:
            await adapter.close()
    assert seen_at_ack[sent] == ["over the socket"]
