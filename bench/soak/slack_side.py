"""Slack's side of the soak: the bot in HTTP mode, and Slack delivering what users write to it.

Deliveries are signed Events API requests, as Slack sends them: a channel mention comes as an
app_mention and a message event (two deliveries of one message), a DM as message.im. Slack waits 3 s
for the HTTP 200; a delivery that fails or times out is retried with X-Slack-Retry-Num 1, 2, 3
(Slack's own schedule is "at once, after 1 minute, after 5 minutes"; `retry_delays` compresses it).
Some delivered events are retried anyway (Slack missed the ack: `retry_rate`) and some are delivered
twice at once (`dup_rate`).
"""

from __future__ import annotations

import asyncio
import random
import socket
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bench.soak.plan import Message
from bench.soak.record import Record, slack_place
from tests.fakes.slack_server import SIGNING_SECRET, SlackSender, mention, message

SLACK_TIMEOUT_S = 3.0  # Slack gives up on a delivery not acked within this
CHANNELS = 10  # the channels that threads start in
EXTRA_RETRY_S = (0.5, 3.0)  # when Slack retries an event it did deliver, seconds after


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class SlackSide:
    session: aiohttp.ClientSession
    rng: random.Random
    retry_rate: float
    dup_rate: float
    retry_delays: tuple[float, float, float]
    port: int = field(default_factory=free_port)
    sent: int = 0  # HTTP deliveries made, retries and duplicates included
    failed: int = 0  # deliveries that got no 200 within SLACK_TIMEOUT_S
    gave_up: int = 0  # events whose third retry failed too: Slack drops them
    _last_micros: int = 0  # ts are the time, as Slack's: later than every message before them
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    name = "slack"
    offline = 0  # (Discord's figure)

    def bot_args(self) -> list[str]:
        return ["--slack-http", "--host", "127.0.0.1", "--port", str(self.port)]

    @property
    def _sender(self) -> SlackSender:
        return SlackSender(f"http://127.0.0.1:{self.port}/slack/events", SIGNING_SECRET, self.session)

    async def ready(self) -> bool:
        try:
            async with self.session.get(f"http://127.0.0.1:{self.port}/healthz") as resp:
                return resp.status == 200
        except (aiohttp.ClientError, TimeoutError):
            return False

    def can_send(self, msg: Message, record: Record) -> bool:
        return True  # a Slack user can always write, in a DM or under their own message

    async def send(self, msg: Message, record: Record) -> None:
        thread = msg.thread
        micros = self._last_micros = max(int(time.time() * 1_000_000), self._last_micros + 1)
        ts = f"{micros // 1_000_000}.{micros % 1_000_000:06d}"
        user = f"U0S{thread.number:06d}"
        msg.platform_id = ts
        if thread.dm:
            channel = f"D0S{thread.number:06d}"
            thread.place = slack_place(channel, None)
            events = [message(msg.text, channel=channel, ts=ts, user=user)]
        elif msg.index == 0:
            channel = f"C0SOAK{thread.number % CHANNELS}"
            thread.place = slack_place(channel, ts)
            events = [
                mention(msg.text, channel=channel, ts=ts, user=user),
                message(f"<@U0BOT> {msg.text}", channel=channel, ts=ts, user=user),
            ]
        else:
            channel, root = thread.place.split("/")
            # Without a reply of the bot in the thread yet, the user has to mention it.
            if msg.mention or not record.answers_in(thread.place):
                events = [
                    mention(msg.text, channel=channel, ts=ts, user=user, thread_ts=root),
                    message(f"<@U0BOT> {msg.text}", channel=channel, ts=ts, user=user, thread_ts=root),
                ]
            else:
                events = [message(msg.text, channel=channel, ts=ts, user=user, thread_ts=root)]
        for event in events:
            self._spawn(self._deliver(event))

    def _spawn(self, work: Any) -> None:
        task: asyncio.Task[None] = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for every delivery and retry still to come."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _deliver(self, event: dict[str, Any]) -> None:
        body = self._sender.event_body(event)  # one event id, kept by its retries
        if self.rng.random() < self.dup_rate:
            self._spawn(self._attempt(body, 0))
        await self._attempt(body, 0)

    async def _attempt(self, body: str, retry: int) -> None:
        ok = await self._post(body, retry)
        if not ok:
            if retry < len(self.retry_delays):
                await asyncio.sleep(self.retry_delays[retry])
                await self._attempt(body, retry + 1)
            else:
                self.gave_up += 1
        elif retry == 0 and self.rng.random() < self.retry_rate:
            for extra in range(1, self.rng.randint(1, 3) + 1):
                await asyncio.sleep(self.rng.uniform(*EXTRA_RETRY_S))
                await self._post(body, extra)

    async def _post(self, body: str, retry: int) -> bool:
        sender = self._sender
        headers = sender.headers(body)  # signed at each attempt, as Slack does
        if retry:
            headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
        self.sent += 1
        try:
            posting = sender.post(body, "application/json", headers)
            status, _ = await asyncio.wait_for(posting, SLACK_TIMEOUT_S)
        except (aiohttp.ClientError, TimeoutError, OSError):
            status = 0
        if status != 200:
            self.failed += 1
        return status == 200
