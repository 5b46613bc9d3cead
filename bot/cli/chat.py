"""`supportbot chat`: talk to the bot in this terminal, or pipe questions in one per line."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from bot.cli.root import State, global_options

if TYPE_CHECKING:
    from bot.settings import LoadedConfig


@click.command(help="talk to the bot in this terminal (or pipe questions in)")
@click.option("--thread", default=None, help="conversation name to start or resume (default: a new one)")
@click.option("--user", default=None, help="your display name (default: login name)")
@global_options
@click.pass_obj
def chat(state: State, thread: str | None, user: str | None) -> int:
    return state.run(lambda config: asyncio.run(_chat(config, thread, user)))


async def _chat(config: LoadedConfig, thread: str | None, user: str | None) -> int:
    import getpass
    from datetime import datetime

    from bot.app import running_app
    from bot.platforms import ChatPlatform, load
    from bot.repair import lenient

    interactive = sys.stdin.isatty()
    thread = thread or datetime.now().strftime("console-%Y%m%d-%H%M%S")
    log_file = _log_to_file(config) if interactive and sys.stderr.isatty() else None
    async with running_app(config) as app:
        if app.llm is None:
            print(
                "supportbot: no LLM is configured — set OPENAI_API_KEY (and OPENAI_BASE_URL for"
                " another OpenAI-compatible server) to get model answers.",
                file=sys.stderr,
            )
        if interactive:
            logs = f" Logs: {log_file}." if log_file else ""
            print(
                f"{config.settings.bot.name} — conversation '{thread}' (resume with --thread"
                f" {thread}). /help lists the commands; /quit, Ctrl-D or Ctrl-C leaves.{logs}\n"
            )
        console = load("console")
        assert isinstance(console, ChatPlatform)
        await console.chat(
            app.service,
            app.config,
            thread=thread,
            user_name=user or getpass.getuser(),
            stdin=lenient(sys.stdin),
            stdout=lenient(sys.stdout),
            interactive=interactive,
        )
    return 0


def _log_to_file(config: LoadedConfig) -> Path:
    """In a terminal, log lines would land inside the chat: send them to a file beside the
    database instead (the secret-redacting filters move with them)."""
    import logging

    path = Path(config.settings.database.path).resolve().parent / "supportbot-chat.log"
    handler = logging.FileHandler(path, encoding="utf-8")
    root = logging.getLogger()
    for old in list(root.handlers):
        for kept in old.filters:
            handler.addFilter(kept)
        handler.setFormatter(old.formatter)
        root.removeHandler(old)
    root.addHandler(handler)
    return path
