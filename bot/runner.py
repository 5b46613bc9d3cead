"""`supportbot run`: start every configured platform adapter on one app and stop them on a signal.

This is the composition root for platforms, so it imports the adapters (lazily: a team that runs
only Discord never loads slack-bolt). The rest of the core imports neither.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from bot.app import App, running_app
from bot.recovery import answer_unanswered
from bot.settings import LoadedConfig

log = logging.getLogger(__name__)


class PlatformAdapter(Protocol):
    """What the runner needs from a platform adapter."""

    platform: str

    async def start(self) -> None:
        """Connect and begin receiving; return once serving (errors raise AdapterStartError)."""
        ...

    async def close(self) -> None: ...


class AdapterStartError(Exception):
    """An adapter could not start; the message names the setting or permission to fix."""


@dataclass(frozen=True, slots=True)
class RunPlan:
    slack: str | None  # None, "socket" or "http"
    discord: bool
    host: str
    port: int


def plan(
    config: LoadedConfig, *, slack_http: bool, slack: bool, discord: bool, host: str | None, port: int | None
) -> tuple[RunPlan, list[str]]:
    """Which platforms to start: the ones asked for, or every configured one. Returns problems too."""
    s, env = config.settings, config.secrets
    problems: list[str] = []
    explicit = slack_http or slack or discord
    slack_mode: str | None = None
    if slack_http or slack or (not explicit and env.slack_bot_token is not None):
        if env.slack_bot_token is None:
            problems.append("Slack: SLACK_BOT_TOKEN is not set")
        elif slack_http or env.slack_app_token is None:
            slack_mode = "http"
            if env.slack_signing_secret is None:
                problems.append("Slack HTTP mode: SLACK_SIGNING_SECRET is not set")
        else:
            slack_mode = "socket"
    want_discord = discord or (not explicit and env.discord_bot_token is not None)
    if want_discord and env.discord_bot_token is None:
        problems.append("Discord: DISCORD_BOT_TOKEN is not set")
    run = RunPlan(
        slack=slack_mode,
        discord=want_discord and env.discord_bot_token is not None,
        host=host or s.slack.http_host,
        port=port or s.slack.http_port,
    )
    if not problems and run.slack is None and not run.discord:
        problems.append(
            "no platform is configured: set SLACK_BOT_TOKEN (+ SLACK_APP_TOKEN or SLACK_SIGNING_SECRET)"
            " or DISCORD_BOT_TOKEN — or try `supportbot chat`"
        )
    return run, problems


def _adapters(app: App, run: RunPlan, on_lost: Callable[[str], None]) -> list[PlatformAdapter]:
    adapters: list[PlatformAdapter] = []
    if run.slack is not None:
        from adapters.slack_adapter import SlackAdapter

        adapters.append(SlackAdapter(app, mode=run.slack, host=run.host, port=run.port))
    if run.discord:
        from adapters.discord_adapter import DiscordAdapter

        adapters.append(DiscordAdapter(app, on_lost=on_lost))
    return adapters


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
        try:
            for adapter in _adapters(app, run, on_lost):
                await adapter.start()
                started.append(adapter)
                log.warning("%s adapter running", adapter.platform)
            reminders = asyncio.create_task(app.handoff.run_reminders(stop))
            recovery = asyncio.create_task(answer_unanswered(app, began))
            await stop.wait()
            recovery.cancel()
            await asyncio.gather(reminders, recovery, return_exceptions=True)
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
