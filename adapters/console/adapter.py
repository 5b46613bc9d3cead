"""The console adapter: a terminal (or piped stdin) as one more platform, through the same manager."""

from __future__ import annotations

import asyncio
import uuid
from contextlib import aclosing
from datetime import UTC, datetime
from typing import TextIO

from adapters.console.lines import Lines, PipedLines
from bot.events import Accepted, IncomingMessage, ReplyDone, TextDelta, ThreadKey
from bot.handoff.states import Trigger
from bot.reply.timing import AnswerClock
from bot.service import Person, SupportService

QUIT_WORDS = frozenset({"/quit", "/exit"})
HELP = (
    "Commands:\n"
    "  /help              this list\n"
    "  /escalate [reason] hand this conversation to a person from the team\n"
    "  /quit              leave (also /exit, Ctrl-D or Ctrl-C)\n"
    "Anything else is a question for the bot. Up and down arrows recall earlier lines. Staff take a\n"
    "handed-over conversation from another terminal: supportbot escalations claim | reply | resolve ID"
)
WAITING = "(Waiting for a person from the team: your message is passed on and the bot stays quiet.)"
WAITING_ON_RESUME = "This conversation is waiting for a person from the team; the bot stays quiet until then."


class ConsoleAdapter:
    """Reads one message per line; streams each answer as it is written."""

    platform = "console"

    def __init__(
        self,
        *,
        thread: str,
        user_name: str,
        stdin: TextIO,
        stdout: TextIO,
        interactive: bool,
        bot_name: str,
        service: SupportService,
        lines: Lines | None = None,
    ) -> None:
        """`lines` is where input comes from (`TerminalLines` in a terminal); default: `stdin`."""
        self.key = ThreadKey(self.platform, "", "console", thread)
        self._user_name = user_name
        self._lines = lines or PipedLines(stdin)
        self._out = stdout
        self._interactive = interactive
        self._bot_name = bot_name
        self._service = service

    async def _write(self, text: str) -> None:
        def write() -> None:
            self._out.write(text)
            self._out.flush()

        await asyncio.to_thread(write)

    async def _say(self, text: str) -> None:
        """One whole message from the bot (not a streamed answer)."""
        await self._write(f"{self._bot_name}> {text}\n\n" if self._interactive else f"{text}\n")

    async def run(self) -> None:
        """Answer lines until end of input (or /quit, Ctrl-C or Ctrl-D in a terminal)."""
        await self._show_notes()
        if self._interactive and await self._service.waiting_for_person(self.key):
            await self._say(WAITING_ON_RESUME)
        while True:
            line = await self._lines.read()
            if line is None:
                if self._interactive:
                    await self._write("\n")
                return
            await self._show_notes()  # what staff wrote meanwhile (Enter on an empty line asks)
            text = line.strip()
            if not text:
                continue
            if self._interactive and text in QUIT_WORDS:
                return
            await self._command_or_question(text)

    async def _command_or_question(self, text: str) -> None:
        command = text.split(maxsplit=1)[0]
        if command == "/help":
            await self._say(HELP)
        elif command == "/escalate":
            await self.escalate(text.removeprefix("/escalate").strip())
        else:
            await self.answer(text)

    async def _show_notes(self) -> None:
        """Messages for this conversation nobody has shown yet (staff replies from a terminal)."""
        for note_id, text in await self._service.undelivered_notes(self.key):
            await self._say(text)
            await self._service.delivered(note_id, None)

    async def escalate(self, reason: str) -> None:
        """`/escalate [reason]`: hand this conversation to staff, as on the chat platforms."""
        text = await self._service.escalate(self.key, Person(self._user_name), reason, Trigger.COMMAND)
        await self._say(text)

    async def answer(self, text: str) -> None:
        msg = IncomingMessage(
            key=self.key,
            message_id=uuid.uuid4().hex,
            user_id=self._user_name,
            user_name=self._user_name,
            text=text,
            is_dm=True,
            received_at=datetime.now(UTC),
        )
        answered = False
        clock = AnswerClock(msg.received_at)  # no sign on a terminal
        async with aclosing(self._service.handle(msg)) as events:
            async for event in events:
                if isinstance(event, Accepted):
                    if self._interactive:
                        await self._write(f"{self._bot_name}> ")
                    continue
                answered = await self._show(event, answered, clock)
        if not answered:  # a person has the conversation: the bot stays silent, but says so
            await self._say(WAITING)

    async def _show(self, event: object, streamed: bool, clock: AnswerClock) -> bool:
        """Write one event of an answer; True once anything of it is shown."""
        if isinstance(event, TextDelta):
            await self._write(event.text if streamed else event.text.lstrip())
            clock.first_token()
            return True
        if isinstance(event, ReplyDone):
            if streamed and event.status == "answered":
                await self._write("\n")
            else:  # nothing (or a broken partial answer) was shown: show the final text
                await self._write(("\n" if streamed else "") + event.text + "\n")
            if self._interactive:
                await self._write("\n")
            clock.complete()
            if event.reply_id is not None:
                await self._service.delivered(event.reply_id, None, clock.timings())
            return True
        return streamed
