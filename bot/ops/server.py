"""The ops HTTP server of `supportbot run`: GET /healthz, /readyz and /metrics on server.host:port.

`Ops` holds the three endpoints (as `OpsPage`s any HTTP server can send, so the Slack HTTP port
answers them too) and serves them on a port of their own when server.port is set.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from bot.ops.metrics import Metrics
from bot.ops.readiness import Readiness, database_check, platform_check, starting
from bot.platforms import AdapterStartError, OpsEndpoint, OpsPage, PlatformAdapter, RunOptions
from bot.storage.store import ConversationStore

if TYPE_CHECKING:
    from bot.app import App

log = logging.getLogger(__name__)

JSON = "application/json"
OUTBOX_TIMEOUT_S = 2.0


def _json(status: int, data: object) -> OpsPage:
    return OpsPage(status, JSON, json.dumps(data).encode())


class Ops:
    """The ops endpoints of one app, and their own server when server.port is set."""

    def __init__(self, metrics: Metrics, store: ConversationStore, readiness: Readiness) -> None:
        self._metrics = metrics
        self._store = store
        self.readiness = readiness
        self._runner: web.AppRunner | None = None
        self.port: int | None = None  # the bound port once started

    @classmethod
    def of(cls, app: App, platforms: list[str]) -> Ops:
        """Ready once the database answers and each of `platforms` (not started yet) is connected."""
        readiness = Readiness()
        readiness.add("database", database_check(app.store, app.config.settings.database.path))
        for name in platforms:
            readiness.add(name, starting)
        return cls(app.metrics, app.store, readiness)

    @property
    def pages(self) -> dict[str, OpsEndpoint]:
        return {"/healthz": self.healthz, "/readyz": self.readyz, "/metrics": self.metrics}

    def share(self, options: RunOptions) -> RunOptions:
        """`options` with the endpoints, for a platform that serves HTTP of its own."""
        return replace(options, ops=self.pages)

    def started(self, adapter: PlatformAdapter) -> None:
        """From now on the adapter's own word says whether its platform is connected."""
        self.readiness.add(adapter.platform, platform_check(adapter))

    # -- the endpoints ---------------------------------------------------------------------------

    async def healthz(self) -> OpsPage:
        """The process is alive and its event loop answers (nothing else is checked)."""
        return _json(200, {"ok": True})

    async def readyz(self) -> OpsPage:
        checks = await self.readiness.report()
        ready = all(result == "ok" for result in checks.values())
        return _json(200 if ready else 503, {"ready": ready, "checks": checks})

    async def metrics(self) -> OpsPage:
        """Every metric; the outbox depth is read from the store now (kept as it was if that fails)."""
        try:
            async with asyncio.timeout(OUTBOX_TIMEOUT_S):
                self._metrics.outbox.set(await self._store.pending_replies())
        except Exception as exc:  # the rest of the metrics are still worth scraping
            log.warning("metrics: cannot read the outbox depth: %s", exc)
        return OpsPage(200, CONTENT_TYPE_LATEST, self._metrics.exposition())

    # -- the server --------------------------------------------------------------------------------

    async def start(self, host: str, port: int) -> None:
        """Serve the endpoints on host:port; AdapterStartError names the setting if it can't listen."""
        web_app = web.Application()
        for path, endpoint in self.pages.items():
            web_app.router.add_get(path, _handler(endpoint))
        runner = web.AppRunner(web_app, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
        except OSError as exc:
            await runner.cleanup()
            raise AdapterStartError(
                f"ops server: cannot listen on {host}:{port} ({exc.strerror}); choose another"
                " server.port (SUPPORTBOT_SERVER__PORT), different from the Slack HTTP port"
            ) from None
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        log.info("ops server: GET /healthz, /readyz and /metrics on %s:%s", host, self.port)

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


def _handler(endpoint: OpsEndpoint) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle(_: web.Request) -> web.Response:
        page = await endpoint()
        return web.Response(status=page.status, body=page.body, headers={"Content-Type": page.content_type})

    return handle
