"""`supportbot run`: start every configured platform adapter on one app and stop them on a signal.

Platforms come from the registry (`bot.platforms`), so this module imports no adapter.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version

from bot.app import running_app
from bot.background import run_background
from bot.kb.sync import keep_in_sync
from bot.ops.server import Ops
from bot.platforms import AdapterStartError, Platform, PlatformAdapter, RunOptions, runnable
from bot.settings import LoadedConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RunPlan:
    """The platforms to start, each with its mode, and how `supportbot run` was asked."""

    platforms: tuple[tuple[Platform, str], ...]
    options: RunOptions

    def mode(self, name: str) -> str | None:
        return next((mode for p, mode in self.platforms if p.name == name), None)


def plan(config: LoadedConfig, options: RunOptions) -> tuple[RunPlan, list[str]]:
    """Which platforms to start: the ones asked for, or every configured one. Returns problems too."""
    chosen: list[tuple[Platform, str]] = []
    problems: list[str] = []
    installed = runnable()
    for platform in installed:
        step = platform.plan(config, options)
        problems.extend(step.problems)
        if step.mode is not None and not step.problems:
            chosen.append((platform, step.mode))
    unknown = sorted(set(options.requested) - {p.name for p in installed})
    problems.extend(f"{name}: this platform is not installed" for name in unknown)
    if not problems and not chosen:
        problems.append(
            "no platform is configured: set SLACK_BOT_TOKEN (+ SLACK_APP_TOKEN or SLACK_SIGNING_SECRET)"
            " or DISCORD_BOT_TOKEN — or try `supportbot chat`"
        )
    return RunPlan(tuple(chosen), options), problems


async def serve(config: LoadedConfig, run: RunPlan) -> int:
    """Run until SIGINT/SIGTERM; 1 if an adapter could not start or lost its platform for good.

    Exiting on a lost connection (rather than serving the other platforms half-alive) lets a
    supervisor restart the bot; the start-up sweep then answers what was stored but not answered.
    """
    stop = asyncio.Event()
    lost: list[str] = []

    def on_lost(problem: str) -> None:
        lost.append(problem)
        stop.set()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with running_app(config) as app:
        began = datetime.now(UTC)  # messages stored before this were left by an earlier run
        started: list[PlatformAdapter] = []
        ops = Ops.of(app, [platform.name for platform, _ in run.platforms])
        server = app.config.settings.server
        chosen = ", ".join(f"{platform.name} ({mode})" for platform, mode in run.platforms)
        log.info("supportbot %s starting: %s", version("supportbot"), chosen)
        try:
            if server.port:  # first, so /healthz answers (and /readyz says "starting") while adapters connect
                await ops.start(server.host, server.port)
            for platform, mode in run.platforms:
                adapter = platform.build(app.service, app.config, mode, ops.share(run.options), on_lost)
                await adapter.start()
                started.append(adapter)
                ops.started(adapter)
                log.info("%s adapter running", adapter.platform)
            # The sweep, outbox, reminders and retention: on one instance at a time (bot/background.py).
            background = asyncio.create_task(run_background(app, began, stop))
            jobs = [background]
            if app.kb is not None and app.kb.shared:  # every instance: pages others add (bot/kb/sync.py)
                jobs.append(asyncio.create_task(keep_in_sync(app.kb, app.config.settings.kb.sync_s, stop)))
            await stop.wait()
            await asyncio.gather(*jobs, return_exceptions=True)
            if lost:
                log.error("stopping: a platform connection was lost for good (%s)", "; ".join(lost))
                return 1
            return 0
        except AdapterStartError as exc:
            log.error("%s", exc)
            return 1
        finally:
            for adapter in reversed(started):
                await adapter.close()
            await ops.close()
