"""Where the console's lines come from: a terminal (prompt_toolkit: line editing, history with the
arrow keys, Ctrl-C and Ctrl-D leave) or piped stdin (one message per line, to its end)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Protocol, TextIO

if TYPE_CHECKING:
    from prompt_toolkit.input import Input
    from prompt_toolkit.output import Output


class Lines(Protocol):
    async def read(self) -> str | None:
        """The next line without its newline; None when the person leaves (or input ends)."""
        ...


class PipedLines:
    """Lines of a pipe or file, read in a worker thread so the answers keep streaming."""

    def __init__(self, stdin: TextIO) -> None:
        self._in = stdin

    async def read(self) -> str | None:
        line = await asyncio.to_thread(self._in.readline)
        return line.rstrip("\n") if line else None


class TerminalLines:
    """A prompt with line editing and this session's history; Ctrl-C or Ctrl-D at it leaves."""

    def __init__(
        self, prompt: str, *, terminal_in: Input | None = None, terminal_out: Output | None = None
    ) -> None:
        from prompt_toolkit import PromptSession
        from prompt_toolkit.history import InMemoryHistory

        self._prompt = prompt
        self._session: PromptSession[str] = PromptSession(
            history=InMemoryHistory(), input=terminal_in, output=terminal_out
        )

    async def read(self) -> str | None:
        try:
            return await self._session.prompt_async(self._prompt)
        except (EOFError, KeyboardInterrupt):
            return None
