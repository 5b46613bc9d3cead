"""The fake platforms as processes of their own that report, one JSON line each, what the benches time.

`python -m bench.fakes openai|slack|discord` serves the fake from tests/fakes/ on 127.0.0.1, prints
`{"url": ...}` (and what a client needs: token, gateway) and then one line per call a bench waits
for, stamped with `time.monotonic()` on arrival (CLOCK_MONOTONIC: one clock for every process):
- slack: `sign` (assistant status or 👀) and `final` (a message or stream end that carries blocks);
- discord: `first` (the first message posted in a channel) and `final` (a post or edit with
  components); the bench sends `{"dm": channel_id, "text": ...}` lines on stdin, each dispatched as
  a MESSAGE_CREATE and answered with a `sent` line;
- openai: `request` with the body of the first `--bodies` chat requests (the floor replays them).
The bench reads these lines as they come (notification), never by rescanning what was recorded.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from tests.fakes import discord_server, openai_server, slack_server

# A support answer of a realistic length (~90 words), streamed 3 words a chunk, citing passage 1.
ANSWER = (
    "To reset your password, open Settings and choose Account, then Security. Select Reset password"
    " and we will email you a link that stays valid for one hour [1]. Open the link on the same device,"
    " choose a new password of at least twelve characters and confirm it. Every other session is"
    " signed out, so sign in again on your phone and desktop apps. If the email does not arrive within"
    " a few minutes, check your spam folder or ask your workspace admin to send a reset from the"
    " members page [1]."
)


def emit(**fields: Any) -> None:
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


@dataclass
class ReportingSlack(slack_server.FakeSlack):
    """The fake Slack, reporting each visible sign and each final answer as it arrives."""

    def record(self, call: slack_server.Call) -> None:
        super().record(call)
        channel = call.params.get("channel") or call.params.get("channel_id")
        if call.method in ("assistant.threads.setStatus", "reactions.add"):
            if call.params.get("status") != "":  # clearing a status is not a sign
                emit(ev="sign", channel=channel, at=call.at)
        elif call.method in ("chat.postMessage", "chat.update", "chat.stopStream") and call.params.get(
            "blocks"
        ):
            emit(ev="final", channel=channel, at=call.at)
        self.calls.clear()  # nothing here reads them again: a long run keeps no history


@dataclass
class ReportingDiscord(discord_server.FakeDiscord):
    """The fake Discord, reporting each channel's first message and its final (buttons) version."""

    _seen: set[str] = field(default_factory=set)

    def record(self, call: discord_server.Call) -> None:
        super().record(call)
        now = time.monotonic()
        parts = call.path.split("/")  # "", "channels", id, "messages", ...
        if len(parts) >= 4 and parts[1] == "channels" and parts[3] == "messages":
            channel = parts[2]
            if call.method == "POST" and channel not in self._seen:
                self._seen.add(channel)
                emit(ev="first", channel=channel, at=now)
            body = call.body if isinstance(call.body, dict) else {}
            if call.method in ("POST", "PATCH") and body.get("components"):
                emit(ev="final", channel=channel, at=now)
        self.calls.clear()


@dataclass
class ReportingOpenAI(openai_server.FakeOpenAI):
    """The fake OpenAI, reporting the bodies of its first `bodies` chat requests."""

    bodies: int = 0

    def record(self, call: openai_server.Call) -> None:
        super().record(call)
        if call.path == openai_server.CHAT and self.bodies > 0:
            self.bodies -= 1
            emit(ev="request", body=call.body)
        self.calls.clear()


def _answer(_: dict[str, Any]) -> str:
    return ANSWER


async def _discord_commands(fake: ReportingDiscord) -> None:
    """Dispatch each `{"dm": channel, "text": ...}` line from stdin as a DM to the bot."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        command = json.loads(line)
        payload = fake.dm_message(str(command["text"]), channel_id=int(command["dm"]))
        emit(ev="sent", channel=str(command["dm"]), at=time.monotonic())
        await fake.dispatch("MESSAGE_CREATE", payload)


async def serve(args: argparse.Namespace) -> None:
    if args.kind == "openai":
        llm = ReportingOpenAI(
            latency_s=args.latency, chunk_delay_s=args.chunk_delay, reply=_answer, bodies=args.bodies
        )
        emit(url=await llm.start())
        await asyncio.Event().wait()
    elif args.kind == "slack":
        slack = ReportingSlack()
        emit(url=await slack.start(), token=slack.token, secret=slack_server.SIGNING_SECRET)
        await asyncio.Event().wait()
    else:
        discord = ReportingDiscord()
        url = await discord.start()
        emit(url=url, token=discord.token, gateway=discord.gateway_url)
        await _discord_commands(discord)


def main() -> None:
    p = argparse.ArgumentParser(description="Serve one fake platform and report what benches time.")
    p.add_argument("kind", choices=("openai", "slack", "discord"))
    p.add_argument("--latency", type=float, default=0.05, help="openai: seconds before the first chunk")
    p.add_argument("--chunk-delay", type=float, default=0.005, help="openai: seconds between chunks")
    p.add_argument("--bodies", type=int, default=0, help="openai: report this many request bodies")
    asyncio.run(serve(p.parse_args()))


if __name__ == "__main__":
    main()
