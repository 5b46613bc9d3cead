"""End-to-end benches: the bot and the floor, side by side, through the real adapters and processes.

Per platform: a fake OpenAI and, per subject, a fake platform (bench/fakes.py), each its own
process; the bot and the floor (bench/subject.py) are two more. The bot answers one warm-up
message first; the fake OpenAI reports that request's body, and the floor replays exactly it.
Then, at each concurrency, rounds alternate bot and floor (the order turns each round): a closed
loop of `concurrency` workers, each sending a new conversation's message once its previous one is
answered. Slack: a signed app_mention to the subject's HTTP endpoint → the first message carrying
blocks on the fake Slack (the answer's final form). Discord: a DM dispatched on the fake gateway →
the first post or edit carrying components. Times come from the fakes' lines as they arrive; CPU
per answer is the subject's user+system time from /proc over the round, divided by its answers.
With `Plan.against` (`python -m bench --against TREE`), a third subject, "before", is the bot of
another source tree (say a `git worktree` of an earlier commit), run with that tree's packages
and this tree's fakes: a change's A/B in one run, each round in turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from tests.fakes.slack_server import SlackSender, mention

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "how do I reset my password?"
WAIT_S = 30.0  # one answer's limit before the bench gives up
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class Plan:
    rounds: int = 3
    sequential: int = 40  # answers per round at concurrency 1
    concurrent: int = 200  # answers per round at `concurrency`
    concurrency: int = 20
    warmup: int = 20
    latency_s: float = 0.05  # the fake model's time to its first chunk
    chunk_delay_s: float = 0.005  # and between chunks (~30 chunks an answer)
    count_sql: bool = False  # count the bot's SQLite work (which costs it CPU: not in the CPU figures)
    against: Path | None = None  # another source tree whose bot runs beside this one ("before")


@dataclass(slots=True)
class Sample:
    e2e_s: float
    sign_s: float | None = None  # the bot's visible sign (Slack), None for the floor


@dataclass
class Series:
    """One subject's samples at one concurrency, over all rounds."""

    samples: list[Sample] = field(default_factory=list)
    cpu_s: float = 0.0
    loads: list[float] = field(default_factory=list)
    round_cpu_ms: list[float] = field(default_factory=list)  # CPU per answer of each round

    def pct(self, q: float) -> float:
        """Nearest-rank percentile of end-to-end time, in ms."""
        ordered = sorted(s.e2e_s for s in self.samples)
        return 1000 * ordered[max(0, min(len(ordered) - 1, round(q * len(ordered) + 0.5) - 1))]

    def cpu_ms(self) -> float:
        return 1000 * self.cpu_s / max(1, len(self.samples))

    def sign_p50(self) -> float | None:
        signs = [s.sign_s for s in self.samples if s.sign_s is not None]
        return 1000 * statistics.median(signs) if signs else None


@dataclass
class Result:
    """Bot and floor at one platform and concurrency."""

    platform: str
    concurrency: int
    bot: Series = field(default_factory=Series)
    floor: Series = field(default_factory=Series)
    before: Series = field(default_factory=Series)  # the bot of Plan.against, when given
    sql: dict[str, float] = field(default_factory=dict)  # the bot's SQLite trips and statements per answer
    statements: dict[str, int] = field(default_factory=dict)  # each statement's start, how often it ran
    callers: dict[str, int] = field(default_factory=dict)  # SQLite trips by the bot's function


class Board:
    """The lines a fake reported, matched to whoever waits for them by (event, channel)."""

    def __init__(self) -> None:
        self._waiting: dict[tuple[str, str], asyncio.Future[float]] = {}
        self._arrived: dict[tuple[str, str], float] = {}
        self.bodies: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.stats: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    def expect(self, event: str, channel: str) -> asyncio.Future[float]:
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        key = (event, channel)
        if key in self._arrived:
            future.set_result(self._arrived.pop(key))
        else:
            self._waiting[key] = future
        return future

    def forget(self, event: str, channel: str) -> None:
        self._waiting.pop((event, channel), None)
        self._arrived.pop((event, channel), None)

    def post(self, line: dict[str, Any]) -> None:
        if line.get("ev") in ("request", "stats"):
            (self.bodies if line["ev"] == "request" else self.stats).put_nowait(line.get("body", line))
            return
        key = (str(line["ev"]), str(line["channel"]))
        future = self._waiting.pop(key, None)
        if future is not None and not future.done():
            future.set_result(float(line["at"]))
        elif future is None:
            self._arrived.setdefault(key, float(line["at"]))


@dataclass
class Child:
    """A bench process: its first line (what it serves), and its CPU time so far."""

    proc: asyncio.subprocess.Process
    hello: dict[str, Any]
    pump: asyncio.Task[None] | None = None

    async def sql_counts(self, board: Board) -> dict[str, Any]:
        """The bot's SQLite counts so far (it prints them on SIGUSR1)."""
        self.proc.send_signal(signal.SIGUSR1)
        return await asyncio.wait_for(board.stats.get(), WAIT_S)

    def cpu_s(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime

    async def send(self, command: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(command).encode() + b"\n")
        await self.proc.stdin.drain()


async def _pump(stream: asyncio.StreamReader, board: Board) -> None:
    while line := await stream.readline():
        board.post(json.loads(line))


@contextlib.asynccontextmanager
async def child(
    args: list[str], board: Board | None = None, env: dict[str, str] | None = None, root: Path = ROOT
) -> AsyncIterator[Child]:
    """Run `python -m ARGS` in the source tree `root` until the block ends; its later stdout lines go
    to `board`."""
    pipe = asyncio.subprocess.PIPE
    # The tree's own packages first, whatever this environment has installed (editable or not).
    env = dict(os.environ if env is None else env)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", *args, cwd=root, env=env, stdin=pipe, stdout=pipe
    )
    try:
        assert proc.stdout is not None
        first = await asyncio.wait_for(proc.stdout.readline(), 120)
        if not first:
            raise RuntimeError(f"{' '.join(args)} exited before it served (code {await proc.wait()})")
        running = Child(proc, json.loads(first))
        if board is not None:
            running.pump = asyncio.create_task(_pump(proc.stdout, board))
        yield running
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 15)
            except TimeoutError:
                proc.kill()
                await proc.wait()


def subject_env(tmp: Path, name: str, llm_url: str, platform: dict[str, str]) -> dict[str, str]:
    keep = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "DISCORD_", "OPENAI_", "SUPPORTBOT_"))
    }
    return keep | platform | {
        "OPENAI_API_KEY": "sk-bench-not-a-real-key",
        "OPENAI_BASE_URL": llm_url,
        "SUPPORTBOT_DATABASE__PATH": str(tmp / f"{name}.db"),
        "SUPPORTBOT_LIMITS__USER_MESSAGES_PER_MINUTE": "0",  # one bench user sends every message
        "PYTHONDONTWRITEBYTECODE": "1",
    }  # fmt: skip


async def closed_loop(concurrency: int, total: int, one: Callable[[int], Awaitable[Sample]]) -> list[Sample]:
    """`concurrency` workers; each sends the next message once its previous one is answered."""
    numbers = iter(range(total))
    out: list[Sample] = []

    async def worker() -> None:
        for n in numbers:
            out.append(await one(n))

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return out


Driver = Callable[[str, int], Awaitable[Sample]]
Say = Callable[[str], None]  # (conversation tag, message number) → sample


def slack_driver(send: SlackSender, board: Board, counter: itertools.count[int]) -> Driver:
    async def one(tag: str, n: int) -> Sample:
        number = next(counter)
        channel = f"C{tag}{number:07d}"
        ts = f"{1_800_000_000 + number}.000200"
        body = send.event_body(mention(QUESTION, channel=channel, ts=ts, user="U0BENCH"))
        final, sign = board.expect("final", channel), board.expect("sign", channel)
        start = time.monotonic()
        status, _ = await send.post(body, "application/json")
        if status != 200:
            raise RuntimeError(f"event refused with HTTP {status}")
        done = await asyncio.wait_for(final, WAIT_S)
        signed = sign.result() if sign.done() else None
        board.forget("sign", channel)
        return Sample(done - start, None if signed is None else signed - start)

    return one


def discord_driver(fake: Child, board: Board, counter: itertools.count[int]) -> Driver:
    async def one(tag: str, n: int) -> Sample:
        channel = str(8_000_000_000_000_000_000 + next(counter))
        sent, final = board.expect("sent", channel), board.expect("final", channel)
        first = board.expect("first", channel)
        await fake.send({"dm": channel, "text": QUESTION})
        done = await asyncio.wait_for(final, WAIT_S)
        start = await sent
        board.forget("first", channel)
        return Sample(done - start, (first.result() - start) if first.done() else None)

    return one


async def measure(
    subjects: dict[str, tuple[Child, Driver]], result: Result, plan: Plan, total: int, say: Say
) -> None:
    """Alternate the subjects over the rounds at `result.concurrency`, each round starting with the
    next (with two, each goes first every other round); add to their series."""
    names = list(subjects)
    for r in range(plan.rounds):
        turn = r % len(names)
        for name in names[turn:] + names[:turn]:
            proc, drive = subjects[name]
            series = {"bot": result.bot, "floor": result.floor, "before": result.before}[name]
            before = proc.cpu_s()
            got = await closed_loop(
                result.concurrency, total, functools.partial(drive, f"{r}{result.concurrency}")
            )
            spent = proc.cpu_s() - before
            series.cpu_s += spent
            series.round_cpu_ms.append(1000 * spent / max(1, len(got)))
            series.samples += got
            series.loads.append(os.getloadavg()[0])
            done = Series(got)
            say(
                f"  {result.platform} x{result.concurrency} round {r + 1} {name:<5}"
                f" p50 {done.pct(0.5):6.1f} ms  p99 {done.pct(0.99):6.1f} ms  load {series.loads[-1]:.2f}"
            )


def llm_args(plan: Plan) -> list[str]:
    """The fake OpenAI's command line: the plan's timing; it reports its first request's body."""
    timing = ["--latency", str(plan.latency_s), "--chunk-delay", str(plan.chunk_delay_s)]
    return ["bench.fakes", "openai", *timing, "--bodies", "1"]


def platform_env(platform: str, fake: Child) -> dict[str, str]:
    """What a subject needs to reach its fake platform, as `supportbot run` reads it."""
    if platform == "slack":
        return {
            "SLACK_BOT_TOKEN": fake.hello["token"],
            "SLACK_SIGNING_SECRET": fake.hello["secret"],
            "SLACK_API_URL": fake.hello["url"],
        }
    return {
        "DISCORD_BOT_TOKEN": fake.hello["token"],
        "DISCORD_API_URL": fake.hello["url"],
        "DISCORD_GATEWAY_URL": fake.hello["gateway"],
    }


async def bench_platform(platform: str, plan: Plan, tmp: Path, say: Say) -> list[Result]:
    """Bot and floor on one platform, each with its own fake platform, sharing one fake model."""
    llm_board, counter = Board(), itertools.count(1)
    body_file, bot_board = tmp / f"{platform}-body.json", Board()
    async with contextlib.AsyncExitStack() as stack:
        llm = await stack.enter_async_context(child(llm_args(plan), llm_board))
        session = await stack.enter_async_context(aiohttp.ClientSession())
        subjects: dict[str, tuple[Child, Driver]] = {}
        for who in ("bot", "floor", *(("before",) if plan.against else ())):
            board = Board()
            fake = await stack.enter_async_context(child(["bench.fakes", platform], board))
            args = ["bench.subject", "bot" if who == "before" else who, platform]
            if who == "floor":
                args += ["--body", str(body_file)]
            elif plan.count_sql and who == "bot":
                args.append("--count-sql")
            env = subject_env(tmp, f"{platform}-{who}", llm.hello["url"], platform_env(platform, fake))
            root = plan.against if who == "before" and plan.against else ROOT
            proc = await stack.enter_async_context(
                child(args, bot_board if who == "bot" else None, env, root)
            )
            if platform == "slack":
                url = f"http://127.0.0.1:{proc.hello['port']}/slack/events"
                drive = slack_driver(SlackSender(url, fake.hello["secret"], session), board, counter)
            else:
                drive = discord_driver(fake, board, counter)
            if who == "bot":  # the request the floor replays
                await drive("W", 0)
                body_file.write_text(json.dumps(await asyncio.wait_for(llm_board.bodies.get(), WAIT_S)))
            await closed_loop(min(plan.concurrency, plan.warmup), plan.warmup, functools.partial(drive, "W"))
            subjects[who] = (proc, drive)
        results = []
        bot = subjects["bot"][0]
        for concurrency, total in ((1, plan.sequential), (plan.concurrency, plan.concurrent)):
            result = Result(platform, concurrency)
            if not plan.count_sql:
                await measure(subjects, result, plan, total, say)
                results.append(result)
                continue
            before = await bot.sql_counts(bot_board)
            await measure(subjects, result, plan, total, say)
            after = await bot.sql_counts(bot_board)
            answers = plan.rounds * total
            result.sql = {k: (after[k] - before[k]) / answers for k in ("trips", "statements")}
            texts: dict[str, int] = after["texts"]
            result.statements = {k: n - before["texts"].get(k, 0) for k, n in texts.items()}
            callers: dict[str, int] = after["callers"]
            result.callers = {k: n - before["callers"].get(k, 0) for k, n in callers.items()}
            results.append(result)
    return results


async def run(plan: Plan, platforms: tuple[str, ...], say: Say) -> list[Result]:
    with tempfile.TemporaryDirectory(prefix="bench-e2e-") as tmp:
        results: list[Result] = []
        for platform in platforms:
            results += await bench_platform(platform, plan, Path(tmp), say)
        return results
