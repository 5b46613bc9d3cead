"""Run one fake platform (slack, discord, openai) as a process of its own, for benches and soaks.

    python -m tests.fakes.serve slack --port 0 --latency 0.1-0.3 --journal /tmp/slack.jsonl --seed 1
    python -m tests.fakes.serve discord --latency 0.1-0.3 --journal /tmp/discord.jsonl
    python -m tests.fakes.serve openai --fault-rate 0.2 --faults 429,500,503,hang,malformed,cut

It prints two lines on stdout, then serves until SIGTERM/SIGINT: the URL a client is given (the
Web API, REST or /v1 base) and a JSON object of the environment variables that point a client at
it (e.g. SLACK_API_URL and SLACK_BOT_TOKEN). `--latency LOW-HIGH` delays every API request by a
uniform random number of seconds (a real Web API takes 100–300 ms a call). `--journal PATH` appends
one JSON line per visible change (see each fake's docstring: "message" and "thread" lines of the
platforms, "chat" lines with the fault each LLM request got), so another process follows what the bot
did by reading the file's new lines (`Journal`) instead of asking.

Control routes, under /_fake/ (no latency): GET /_fake/env (the JSON above), GET /_fake/state
(calls so far; Discord: gateway connections), POST /_fake/fail_next (JSON: the fake's `fail_next`
keywords). Discord also has POST /_fake/user_message: a user writes a message (JSON: `channel_id`,
`text`, `author_id`, `guild` (a server channel or thread, else a DM), `mention` (of the bot),
`duplicates` (times the same MESSAGE_CREATE is dispatched again, as a replay would)); it answers
{"id": the message id, "delivered": how many gateway clients got it (0: the bot is offline)}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from aiohttp import web

from tests.fakes.base import CONTROL_PREFIX
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_server import SIGNING_SECRET, FakeSlack

KINDS = ("slack", "discord", "openai")
AnyFake = FakeSlack | FakeDiscord | FakeOpenAI
Route = Callable[[web.Request], Awaitable[web.Response]]


def client_env(fake: AnyFake) -> dict[str, str]:
    """The environment variables that point the bot at this fake."""
    if isinstance(fake, FakeSlack):
        return {
            "SLACK_API_URL": fake.api_url,
            "SLACK_BOT_TOKEN": fake.token,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,  # what the sender of events signs with
        }
    if isinstance(fake, FakeDiscord):
        return {
            "DISCORD_API_URL": fake.api_url,
            "DISCORD_GATEWAY_URL": fake.gateway_url,
            "DISCORD_BOT_TOKEN": fake.token,
        }
    assert isinstance(fake, FakeOpenAI)
    return {"OPENAI_BASE_URL": fake.base_url, "OPENAI_API_KEY": "sk-fake-not-a-real-key"}


@dataclass
class Controls:
    """The /_fake/ routes of one served fake."""

    fake: AnyFake
    routes: dict[tuple[str, str], Route] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.routes[("GET", "env")] = self._env
        self.routes[("GET", "state")] = self._state
        self.routes[("POST", "fail_next")] = self._fail_next
        if isinstance(self.fake, FakeDiscord):
            self.routes[("POST", "user_message")] = self._user_message

    def add_to(self, app: web.Application) -> None:
        for (method, name), handler in self.routes.items():
            app.router.add_route(method, CONTROL_PREFIX + name, handler)

    async def _env(self, _: web.Request) -> web.Response:
        return web.json_response(client_env(self.fake))

    async def _state(self, _: web.Request) -> web.Response:
        state: dict[str, Any] = {"calls": len(self.fake.calls)}
        if isinstance(self.fake, FakeDiscord):
            state |= {"connections": len(self.fake._sockets), "identifies": len(self.fake.identifies)}
        return web.json_response(state)

    async def _fail_next(self, request: web.Request) -> web.Response:
        keywords = await request.json()
        self.fake.fail_next(**keywords)
        return web.json_response({"ok": True})

    async def _user_message(self, request: web.Request) -> web.Response:
        fake = self.fake
        assert isinstance(fake, FakeDiscord)
        spec = await request.json()
        author = int(spec.get("author_id", 900))
        name = str(spec.get("name", f"user{author}"))
        channel_id = int(spec["channel_id"])
        if spec.get("guild"):
            data = fake.guild_message(
                spec["text"], channel_id=channel_id, author_id=author, name=name, mention=spec.get("mention")
            )
        else:
            data = fake.dm_message(spec["text"], channel_id=channel_id, author_id=author, name=name)
        delivered = await fake.user_writes(data)
        for _ in range(int(spec.get("duplicates", 0))):
            await fake.dispatch("MESSAGE_CREATE", data)
        return web.json_response({"id": data["id"], "delivered": delivered})


def build(kind: str, args: argparse.Namespace, journal: TextIO | None) -> AnyFake:
    """The fake `kind` with the command line's options."""
    low, high = args.latency
    common: dict[str, Any] = {"request_latency": (low, high), "journal": journal}
    fake: AnyFake
    if kind == "slack":
        fake = FakeSlack(retry_after="1", realtime_ts=True, **common)
    elif kind == "discord":
        fake = FakeDiscord(realtime_ids=True, **common)
    else:
        fake = FakeOpenAI(
            fault_rate=args.fault_rate,
            random_faults=tuple(f for f in args.faults.split(",") if f),
            latency_s=args.first_token,
            chunk_delay_s=args.chunk_delay,
            **common,
        )
    if args.seed is not None:
        fake.rng.seed(args.seed)
    return fake


def latency_range(text: str) -> tuple[float, float]:
    """ "0.1-0.3" → (0.1, 0.3); "0.2" → (0.2, 0.2)."""
    low, _, high = text.partition("-")
    try:
        pair = (float(low), float(high or low))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not SECONDS or LOW-HIGH") from None
    if not 0 <= pair[0] <= pair[1]:
        raise argparse.ArgumentTypeError(f"{text!r}: need 0 <= LOW <= HIGH")
    return pair


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m tests.fakes.serve", description=__doc__.splitlines()[0])
    p.add_argument("kind", choices=KINDS)
    p.add_argument("--port", type=int, default=0, help="0: any free port")
    p.add_argument("--latency", type=latency_range, default=(0.0, 0.0), help="seconds a request, LOW-HIGH")
    p.add_argument("--journal", type=Path, help="append one JSON line per visible change here")
    p.add_argument("--seed", type=int, help="seed the latency and random faults")
    llm = p.add_argument_group("openai")
    llm.add_argument("--fault-rate", type=float, default=0.0, help="share of chat requests that fail")
    llm.add_argument("--faults", default="429,500,503,hang,malformed,cut", help="the faults drawn from")
    llm.add_argument("--first-token", type=float, default=0.0, help="seconds before the first chunk")
    llm.add_argument("--chunk-delay", type=float, default=0.0, help="seconds before each later chunk")
    return p


def _client_went_away(record: logging.LogRecord) -> bool:
    """False for aiohttp's traceback of a request whose client died mid-way (a soak's kill -9)."""
    error = record.exc_info[1] if record.exc_info else None
    return not isinstance(error, ConnectionResetError)


async def serve(args: argparse.Namespace) -> None:
    logging.getLogger("aiohttp.server").addFilter(_client_went_away)
    journal = args.journal.open("a", encoding="utf-8") if args.journal else None
    fake = build(args.kind, args, journal)
    await fake.start(args.port, extra_routes=Controls(fake).add_to)
    print(fake.url, flush=True)
    print(json.dumps(client_env(fake)), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await fake.stop()
        if journal is not None:
            journal.close()


class Journal:
    """Follows a journal file from another process: each `read_new` returns the lines appended since."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0

    def read_new(self) -> list[dict[str, Any]]:
        try:
            with self.path.open("rb") as f:
                f.seek(self._offset)
                data = f.read()
        except FileNotFoundError:
            return []
        end = data.rfind(b"\n") + 1  # a line still being written is read next time
        self._offset += end
        return [json.loads(line) for line in data[:end].splitlines() if line.strip()]


def main() -> None:
    asyncio.run(serve(parser().parse_args()))


if __name__ == "__main__":
    main()
