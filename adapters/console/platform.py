"""The console's entry in the platform registry: `supportbot chat` in this terminal (never `run`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from bot.service import SupportService
    from bot.settings import LoadedConfig


class ConsolePlatform:
    name = "console"

    async def chat(
        self,
        service: SupportService,
        config: LoadedConfig,
        *,
        thread: str,
        user_name: str,
        stdin: TextIO,
        stdout: TextIO,
        interactive: bool,
    ) -> None:
        from adapters.console.adapter import ConsoleAdapter
        from adapters.console.lines import PipedLines, TerminalLines

        lines = TerminalLines("you> ") if interactive else PipedLines(stdin)
        adapter = ConsoleAdapter(
            lines=lines,
            thread=thread,
            user_name=user_name,
            stdin=stdin,
            stdout=stdout,
            interactive=interactive,
            bot_name=config.settings.bot.name,
            service=service,
        )
        await adapter.run()


PLATFORM = ConsolePlatform()
