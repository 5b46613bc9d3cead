"""Memory bench: the bot's resident memory with many stored conversations and many active ones.

A database is prepared with `stored` conversations (one answered exchange each, by executemany,
as bench_core does), then the bot runs on it as its own process behind the Slack adapter, and
`active` new conversations are answered end to end (signed events, 50 at once). Read from
/proc/PID/status: VmRSS after start-up, VmHWM (the peak) after the traffic, and VmRSS then; and
from /proc/PID/smaps_rollup how much of it is the process's own memory (anonymous: Python objects,
native tables, caches) rather than pages of mapped files (shared libraries' code).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bench import e2e
from bench.bench_core import populate
from bench.table import Row
from tests.fakes.slack_server import SlackSender

TARGET_MB = 100.0


@dataclass(frozen=True, slots=True)
class Plan:
    stored: int = 100_000
    active: int = 1_000
    concurrency: int = 50

    @classmethod
    def quick(cls) -> Plan:
        return cls(stored=200, active=20, concurrency=5)


@dataclass(frozen=True, slots=True)
class Memory:
    started_mb: float  # VmRSS once serving
    peak_mb: float  # VmHWM after the traffic
    after_mb: float  # VmRSS after the traffic
    anonymous_mb: float  # of which anonymous memory (smaps_rollup), the rest mapped files


def status_mb(pid: int, field: str) -> float:
    """A /proc/PID/status field (kB) in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(field)


def anonymous_mb(pid: int) -> float:
    """The process's anonymous resident memory (kB in smaps_rollup) in MB."""
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Anonymous:"):
            return int(line.split()[1]) / 1024
    raise KeyError("Anonymous")


async def run(plan: Plan, say: Callable[[str], None]) -> Memory:
    e2e_plan = e2e.Plan()
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        seconds = await asyncio.to_thread(populate, Path(tmp) / "memory.db", plan.stored)
        say(f"  memory: {plan.stored:,} conversations stored in {seconds:.1f} s")
        async with contextlib.AsyncExitStack() as stack:
            llm = await stack.enter_async_context(e2e.child(e2e.llm_args(e2e_plan), e2e.Board()))
            board = e2e.Board()
            fake = await stack.enter_async_context(e2e.child(["bench.fakes", "slack"], board))
            platform = {
                "SLACK_BOT_TOKEN": fake.hello["token"],
                "SLACK_SIGNING_SECRET": fake.hello["secret"],
                "SLACK_API_URL": fake.hello["url"],
            }
            env = e2e.subject_env(Path(tmp), "memory", llm.hello["url"], platform)
            bot = await stack.enter_async_context(e2e.child(["bench.subject", "bot", "slack"], None, env))
            pid = bot.proc.pid
            started = status_mb(pid, "VmRSS")
            session = await stack.enter_async_context(aiohttp.ClientSession())
            send = SlackSender(
                f"http://127.0.0.1:{bot.hello['port']}/slack/events", fake.hello["secret"], session
            )
            drive = e2e.slack_driver(send, board, itertools.count(1))
            await e2e.closed_loop(plan.concurrency, plan.active, functools.partial(drive, "M"))
            memory = Memory(started, status_mb(pid, "VmHWM"), status_mb(pid, "VmRSS"), anonymous_mb(pid))
    say(
        f"  memory: RSS {memory.started_mb:.1f} MB at start, {memory.after_mb:.1f} MB after the traffic"
        f" ({memory.anonymous_mb:.1f} MB anonymous)"
    )
    return memory


def rows(memory: Memory, plan: Plan) -> list[Row]:
    """The target (RSS once the conversations were answered) and, for information, start and peak
    and the anonymous part."""
    where = f"memory, {plan.stored:,} stored + {plan.active:,} active"
    ok = memory.after_mb <= TARGET_MB
    target = f"<= {TARGET_MB:.0f} MB"
    start_peak = f"{memory.started_mb:.1f} / {memory.peak_mb:.1f} MB"
    return [
        Row(f"{where}: RSS", f"{memory.after_mb:.1f} MB", "-", "-", target, ok, "-"),
        Row(f"{where}: RSS at start / peak", start_peak, "-", "-", "-", None, "-"),
        Row(f"{where}: of the RSS, anonymous", f"{memory.anonymous_mb:.1f} MB", "-", "-", "-", None, "-"),
    ]
