"""The fake platforms themselves: they model the platforms, not our code, and answer like them."""

from __future__ import annotations

import asyncio
import sys

import aiohttp

from tests.conftest import REPO
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_server import FakeSlack

FAKES = (
    "tests.fakes.base",
    "tests.fakes.openai_server",
    "tests.fakes.slack_server",
    "tests.fakes.discord_server",
)


async def test_the_fakes_import_nothing_of_the_product() -> None:
    code = (
        "import sys\n"
        + "".join(f"import {name}\n" for name in FAKES)
        + "print(sorted(m for m in sys.modules if m.split('.')[0] in ('bot', 'adapters')))"
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, stdout=asyncio.subprocess.PIPE, cwd=REPO
    )
    out, _ = await proc.communicate()
    assert proc.returncode == 0 and out.decode().strip() == "[]"


async def test_every_fake_answers_json_as_exactly_application_json(
    fake_openai: FakeOpenAI, fake_slack: FakeSlack, fake_discord: FakeDiscord
) -> None:
    """discord.py parses a body only when Content-Type is exactly application/json."""
    async with aiohttp.ClientSession() as session:
        answers = [
            session.post(
                f"{fake_slack.api_url}auth.test", headers={"Authorization": f"Bearer {fake_slack.token}"}
            ),
            session.get(
                f"{fake_discord.api_url}/users/@me", headers={"Authorization": f"Bot {fake_discord.token}"}
            ),
            session.post(f"{fake_openai.base_url}/embeddings", json={"model": "m", "input": "hello"}),
        ]
        for answer in answers:
            async with answer as resp:
                assert resp.status == 200 and resp.headers["Content-Type"] == "application/json"
