"""`supportbot chat`: talk to the bot in this terminal, or pipe questions in one per line."""

from __future__ import annotations

import asyncio
import sys
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
    async with running_app(config) as app:
        if app.llm is None:
            print(
                "supportbot: no LLM is configured — set OPENAI_API_KEY (and OPENAI_BASE_URL for"
                " another OpenAI-compatible server) to get model answers.",
                file=sys.stderr,
            )
        if interactive:
            print(
                f"{config.settings.bot.name} — conversation '{thread}' (resume with --thread"
                f" {thread}). Type /escalate [reason] to reach a person, /quit or Ctrl-D to leave.\n"
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
