"""tests/fakes/serve.py: a fake as its own process, its journal, its control routes and its latency."""

from __future__ import annotations

import time
from pathlib import Path

import aiohttp

from bench.common import served_fake
from tests.fakes.serve import Journal


async def test_a_served_discord_keeps_what_users_write_offline_and_journals_the_bots_posts(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "discord.jsonl"
    with served_fake("discord", "--latency", "0.1-0.15", "--journal", str(journal)) as fake:
        bot = {"Authorization": f"Bot {fake.env['DISCORD_BOT_TOKEN']}"}
        assert fake.env["DISCORD_API_URL"] == fake.url
        async with aiohttp.ClientSession() as session:
            spec = {"channel_id": 77, "text": "hello while you sleep", "author_id": 900}
            async with session.post(fake.control + "user_message", json=spec) as resp:
                written = await resp.json()
            assert written["delivered"] == 0  # no gateway client: only the history has it
            began = time.monotonic()
            async with session.get(f"{fake.url}/channels/77/messages?after=0", headers=bot) as resp:
                history = await resp.json()
            assert time.monotonic() - began >= 0.1  # the API's latency
            assert [m["content"] for m in history] == ["hello while you sleep"]
            assert history[0]["id"] == written["id"]
            assert abs((int(written["id"]) >> 22) + 1_420_070_400_000 - time.time() * 1000) < 60_000
            async with session.post(f"{fake.url}/channels/77/messages", json={"content": "hi"}, headers=bot):
                pass
            async with session.get(f"{fake.url}/channels/77/messages?limit=1", headers=bot) as resp:
                assert [m["content"] for m in await resp.json()] == ["hi"]  # newest first
    lines = Journal(journal).read_new()
    assert [(x["kind"], x["op"], x["text"], x["channel_id"]) for x in lines] == [
        ("message", "post", "hi", "77")
    ]


async def test_a_served_openai_fails_the_share_of_requests_it_is_told_to(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "llm.jsonl")
    options = ("--fault-rate", "0.5", "--faults", "500,503", "--seed", "3", "--journal", str(journal.path))
    with served_fake("openai", *options) as fake:
        body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
        async with aiohttp.ClientSession() as session:
            statuses = []
            for _ in range(40):
                async with session.post(f"{fake.url}/chat/completions", json=body) as resp:
                    statuses.append(resp.status)
    assert set(statuses) == {200, 500, 503} and 8 <= statuses.count(200) <= 32
    faults = [x["fault"] for x in journal.read_new()]
    assert [s != 200 for s in statuses] == [f is not None for f in faults]
    assert journal.read_new() == []  # each line is read once
