"""`supportbot check --live` against the fake OpenAI, Slack and Discord servers and a real database."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.cli.test_cli import run_cli
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_server import FakeSlack
from tests.ops.running import run_env

DEAD = "http://127.0.0.1:9"  # the discard port: nothing listens there


def live_env(
    tmp_path: Path, openai_url: str, slack: FakeSlack, discord: FakeDiscord, **more: str
) -> dict[str, str]:
    env = run_env(
        tmp_path,
        openai_url,
        SLACK_BOT_TOKEN=slack.token,
        SLACK_APP_TOKEN=slack.app_token,
        SLACK_API_URL=slack.api_url,
        DISCORD_BOT_TOKEN=discord.token,
        DISCORD_API_URL=discord.api_url,
        SUPPORTBOT_LLM__MAX_RETRIES="0",
        SUPPORTBOT_LOG__FORMAT="text",
    )
    return env | more


def checklist(out: str) -> dict[str, str]:
    """The live checklist: check name → "ok" or "FAIL"."""
    lines = [line.strip() for line in out.splitlines() if line.startswith("  [")]
    return {line[7:].split(":", 1)[0]: line[1:5].strip() for line in lines}


async def test_every_configured_service_is_tried_and_passes(
    tmp_path: Path, fake_openai: FakeOpenAI, fake_slack: FakeSlack, fake_discord: FakeDiscord
) -> None:
    env = live_env(tmp_path, fake_openai.base_url, fake_slack, fake_discord)
    code, out, err = await run_cli("check", "--live", env=env)
    assert code == 0, out + err
    assert checklist(out) == {
        "llm": "ok",
        "slack auth.test": "ok",
        "slack apps.connections.open": "ok",
        "discord users/@me": "ok",
        "database write": "ok",
    }
    [request] = fake_openai.requests
    assert request["max_tokens"] == 1 and request["model"] == "gpt-4o-mini"
    assert fake_slack.called("auth.test") and fake_discord.find("GET", "/users/@me")
    assert "the bot token is Supportbot" in out and "live: 5 passed, 0 failed" in out


async def test_each_failure_is_one_line_and_the_exit_code_is_1(
    tmp_path: Path, fake_slack: FakeSlack, fake_discord: FakeDiscord
) -> None:
    env = live_env(
        tmp_path,
        f"{DEAD}/v1",  # the model endpoint is down
        fake_slack,
        fake_discord,
        SLACK_BOT_TOKEN="xoxb-revoked",
        DISCORD_BOT_TOKEN="not-the-bots-token",
    )
    db = tmp_path / "bot.db"
    code, _, err = await run_cli("check", env=env)  # the database is created and migrated
    assert code == 0, err
    holder = sqlite3.connect(db, isolation_level=None)  # another process holds the write lock
    holder.execute("BEGIN IMMEDIATE")
    try:
        code, out, err = await run_cli("check", "--live", env=env)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert code == 1, out + err
    assert checklist(out) == {
        "llm": "FAIL",
        "slack auth.test": "FAIL",
        "discord users/@me": "FAIL",
        "database write": "FAIL",
    }
    assert "check OPENAI_BASE_URL" in out and "SLACK_BOT_TOKEN was rejected" in out
    assert "DISCORD_BOT_TOKEN" in out and "database is locked" in out
    assert "Traceback" not in out + err and "xoxb-revoked" not in err


async def test_without_live_nothing_is_called(
    tmp_path: Path, fake_openai: FakeOpenAI, fake_slack: FakeSlack, fake_discord: FakeDiscord
) -> None:
    env = live_env(tmp_path, fake_openai.base_url, fake_slack, fake_discord)
    code, out, _ = await run_cli("check", env=env)
    assert code == 0 and "live checks" not in out
    assert not fake_openai.requests and not fake_slack.called("auth.test") and not fake_discord.calls
