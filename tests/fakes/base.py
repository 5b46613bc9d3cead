"""The base of the fake platforms: an aiohttp app on 127.0.0.1 at a run-time port, its calls, waiting.

Each fake (OpenAI, Slack, Discord) adds its routes and its own record of a call. Every recorded call,
every request answered and any other change a fake reports wakes `wait_for`, which re-checks its
condition then (and every RECHECK_S for conditions that change elsewhere, such as the bot's logs).
Fakes model the platform only: nothing here or in a fake imports the product.
A fake run as its own process (tests/fakes/serve.py) can also wait `request_latency` (a random
number of seconds in a range) before each API request, as a real platform does, and append one JSON
line per visible change (a message posted, edited, deleted; a fault injected) to a `journal` file,
so another process can follow what the bot did without asking.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TextIO, TypeVar

from aiohttp import web

HOST = "127.0.0.1"
RECHECK_S = 0.1  # a condition that no call of this fake changes is re-checked this often
CONTROL_PREFIX = "/_fake/"  # a served fake's own control routes (serve.py): never delayed, not the API

CallT = TypeVar("CallT")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON body with Content-Type exactly application/json (discord.py parses nothing else)."""
    return web.Response(
        body=json.dumps(data).encode(),
        status=status,
        headers={**(headers or {}), "Content-Type": "application/json"},
    )


@dataclass
class FakeServer(Generic[CallT]):
    """Start/stop an aiohttp app on 127.0.0.1, record calls, wait for what the bot did."""

    port: int = 0
    calls: list[CallT] = field(default_factory=list)
    request_latency: tuple[float, float] = (0.0, 0.0)  # seconds before each API request, uniform
    journal: TextIO | None = None  # one JSON line per `note`, flushed at once
    rng: random.Random = field(default_factory=random.Random)  # latency and random faults (seedable)
    _runner: web.AppRunner | None = field(default=None, repr=False)
    _changed: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    @property
    def url(self) -> str:
        """The address a client is given (each fake says which: an API base URL)."""
        return f"http://{HOST}:{self.port}"

    def routes(self, app: web.Application) -> None:
        """Add the fake's routes."""
        raise NotImplementedError

    async def start(
        self, port: int = 0, extra_routes: Callable[[web.Application], None] | None = None
    ) -> str:
        """Serve on 127.0.0.1 (`port` 0: any free one); return `url`. `extra_routes` adds more (the
        control routes of a served fake)."""
        app = web.Application(middlewares=[self._notify_after])
        self.routes(app)
        if extra_routes is not None:
            extra_routes(app)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, HOST, port).start()
        self.port = int(self._runner.addresses[0][1])
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def record(self, call: CallT) -> None:
        self.calls.append(call)
        self.changed()

    def note(self, kind: str, **fields: Any) -> None:
        """Append one line to the journal (if any): {"at": time.time(), "kind": kind, **fields}."""
        if self.journal is not None:
            self.journal.write(json.dumps({"at": time.time(), "kind": kind, **fields}) + "\n")
            self.journal.flush()

    def changed(self) -> None:
        """Wake every `wait_for` to re-check its condition."""
        self._changed.set()
        self._changed = asyncio.Event()

    def describe_calls(self) -> str:
        """What the bot called so far, for a timeout's message."""
        return repr(self.calls)

    async def wait_for(
        self, check: Callable[[], object], within: float = 10.0, *, what: str = "the bot"
    ) -> None:
        """Return once `check()` is truthy, re-checked on each change; fail after `within` s."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while not check():
            left = deadline - loop.time()
            if left <= 0:
                raise AssertionError(f"timed out waiting for {what}; calls: {self.describe_calls()}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(left, RECHECK_S))

    @web.middleware
    async def _notify_after(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """A request's effects (a posted message, an edit) are visible once its handler returns."""
        low, high = self.request_latency
        if high > 0 and not request.path.startswith(CONTROL_PREFIX) and not _is_upgrade(request):
            await asyncio.sleep(self.rng.uniform(low, high))
        try:
            return await handler(request)
        finally:
            self.changed()


def _is_upgrade(request: web.Request) -> bool:
    """A WebSocket handshake (a gateway connection), which no API latency applies to."""
    return request.headers.get("Upgrade", "").lower() == "websocket"
