"""What a bench measures, as a process of its own: the bot or the floor, on Slack (HTTP) or Discord.

`python -m bench.subject bot|floor slack|discord [--body FILE]` reads the platform's and the
model's addresses from the environment (as `supportbot run` does), starts, prints `{"port": P}`
once it serves (Slack: its events endpoint on 127.0.0.1:P; Discord: 0, it listens on the gateway)
and runs until SIGTERM, on the loop `supportbot run` takes (bot/eventloop.py). The bench reads
its CPU time from /proc; the bot also counts its SQLite work and prints the counts on SIGUSR1 (a
counter per statement, nothing timed).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import re
import signal
import sys
from pathlib import Path
from typing import Any

import yarl

from bot import eventloop

LITERALS = re.compile(r"'[^']*'|\b\d+(?:\.\d+)?\b")  # SQLite's trace shows bound values inline


def _ready(port: int) -> None:
    sys.stdout.write(json.dumps({"port": port}) + "\n")
    sys.stdout.flush()


async def _until_stopped() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


class SQLCount:
    """Counts the store's trips to its SQLite thread and the statements SQLite ran (nested ones,
    such as FTS5's own queries, included); printed as a `stats` line on each SIGUSR1."""

    def __init__(self) -> None:
        self.trips = 0
        self.statements = 0
        self.texts: dict[str, int] = {}
        self.callers: dict[str, int] = {}  # trips by the product function that made them

    async def attach(self, db: Any) -> None:
        execute = db._execute  # every aiosqlite call is one trip through this

        async def counted(fn: Any, *args: Any, **kwargs: Any) -> Any:
            self.trips += 1
            where = _caller()
            self.callers[where] = self.callers.get(where, 0) + 1
            return await execute(fn, *args, **kwargs)

        db._execute = counted
        await db.set_trace_callback(self._statement)

    def report(self) -> None:
        line = {"ev": "stats", "channel": "-", "trips": self.trips, "statements": self.statements}
        sys.stdout.write(json.dumps(line | {"texts": self.texts, "callers": self.callers}) + "\n")
        sys.stdout.flush()

    def _statement(self, sql: str) -> None:
        self.statements += 1
        head = LITERALS.sub("?", " ".join(sql.split()))[:90]
        self.texts[head] = self.texts.get(head, 0) + 1


def _caller() -> str:
    """The innermost function of bot/ on the stack (who asked for this SQLite trip)."""
    frame = sys._getframe(2)
    while frame is not None:
        name = frame.f_code.co_filename
        if f"{os.sep}bot{os.sep}" in name:
            return f"{Path(name).stem}.{frame.f_code.co_name}"
        frame = frame.f_back  # type: ignore[assignment]
    return "?"


async def run_bot(platform: str, count_sql: bool) -> None:
    """The bot on `platform`; with `count_sql`, its SQLite work counted (a stack walk per trip and a
    callback per statement: CPU the floor doesn't spend, so only when asked for)."""
    from bot.app import running_app
    from bot.settings import load_config
    from bot.storage.sqlite import SQLiteStore

    async with running_app(load_config()) as app:
        if count_sql:
            count = SQLCount()
            assert isinstance(app.store, SQLiteStore)  # the bench counts SQLite's statements
            await count.attach(app.store.db)
            asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, count.report)
        if platform == "slack":
            from adapters.slack.adapter import SlackAdapter

            slack = SlackAdapter(app.service, app.config, mode="http", host="127.0.0.1", port=0)
            await slack.start()
            _ready(slack.port)
            try:
                await _until_stopped()
            finally:
                await slack.close()
        else:
            from adapters.discord.adapter import DiscordAdapter

            discord_adapter = DiscordAdapter(app.service, app.config, guild_ready_timeout_s=0.05)
            await discord_adapter.start()
            _ready(0)
            try:
                await _until_stopped()
            finally:
                await discord_adapter.close()


async def run_floor(platform: str, body: dict[str, Any]) -> None:
    from bench import floor
    from bot.llm.sdk import openai_client
    from bot.settings import LLMSettings

    defaults = LLMSettings()  # the bot's timeout and retries, on its own SDK client and transport
    llm = openai_client(
        api_key=os.environ["OPENAI_API_KEY"],
        base_url=os.environ["OPENAI_BASE_URL"],
        timeout_s=defaults.timeout_s,
        max_retries=defaults.max_retries,
    )
    if platform == "slack":
        from aiohttp import web
        from slack_sdk.web.async_client import AsyncWebClient

        from adapters.slack.api import web_logger

        # slack-sdk as it comes, but with the bot's logger: no DEBUG line formatted per call for nothing.
        slack = AsyncWebClient(
            token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"], logger=web_logger()
        )
        endpoint = floor.SlackFloor(llm, slack, os.environ["SLACK_SIGNING_SECRET"], body)
        runner = web.AppRunner(endpoint.app(), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        _ready(int(runner.addresses[0][1]))
        try:
            await _until_stopped()
        finally:
            await runner.cleanup()
    else:
        import discord

        discord.http.Route.BASE = os.environ["DISCORD_API_URL"]
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(os.environ["DISCORD_GATEWAY_URL"])
        client = floor.DiscordFloor(llm, body)
        await client.login(os.environ["DISCORD_BOT_TOKEN"])
        task = asyncio.create_task(client.connect())
        await client.wait_until_ready()
        _ready(0)
        try:
            await _until_stopped()
        finally:
            await client.close()
            with contextlib.suppress(Exception):
                await task
    await llm.close()


def main() -> None:
    p = argparse.ArgumentParser(description="Run the bot or the floor for a bench.")
    p.add_argument("who", choices=("bot", "floor"))
    p.add_argument("platform", choices=("slack", "discord"))
    p.add_argument("--body", type=Path, help="floor: the model request body to send (JSON)")
    p.add_argument("--count-sql", action="store_true", help="bot: count its SQLite work (SIGUSR1 prints it)")
    args = p.parse_args()
    logging.basicConfig(level=logging.ERROR)
    if args.who == "bot":  # on the loop `supportbot run` takes, and so is the floor
        eventloop.run(run_bot(args.platform, args.count_sql))
    else:
        eventloop.run(run_floor(args.platform, json.loads(args.body.read_text())))


if __name__ == "__main__":
    main()
