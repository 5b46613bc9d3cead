"""The console adapter: a terminal (or piped stdin) as one more platform, through the same manager."""

from __future__ import annotations

import asyncio
import uuid
from contextlib import aclosing
from datetime import UTC, datetime
from typing import TextIO

from bot.events import IncomingMessage, ReplyDone, TextDelta, ThreadKey
from bot.handoff.states import Trigger
from bot.reply.timing import AnswerClock
from bot.service import Person, SupportService

QUIT_WORDS = frozenset({"/quit", "/exit"})


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
    ) -> None:
        self.key = ThreadKey(self.platform, "", "console", thread)
        self._user_name = user_name
        self._in = stdin
        self._out = stdout
        self._interactive = interactive
        self._bot_name = bot_name
        self._service = service

    async def _write(self, text: str) -> None:
        def write() -> None:
            self._out.write(text)
            self._out.flush()

        await asyncio.to_thread(write)

    async def run(self) -> None:
        """Answer lines until end of input (or /quit when interactive)."""
        while True:
            if self._interactive:
                await self._write("you> ")
            line = await asyncio.to_thread(self._in.readline)
            if not line:
                if self._interactive:
                    await self._write("\n")
                return
            text = line.strip()
            if not text:
                continue
            if self._interactive and text in QUIT_WORDS:
                return
            if text.split(maxsplit=1)[0] == "/escalate":
                await self.escalate(text.removeprefix("/escalate").strip())
                continue
            await self.answer(text)

    async def escalate(self, reason: str) -> None:
        """`/escalate [reason]`: hand this conversation to staff, as on the chat platforms."""
        text = await self._service.escalate(self.key, Person(self._user_name), reason, Trigger.COMMAND)
        await self._write(f"{self._bot_name}> {text}\n" if self._interactive else f"{text}\n")

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
        if self._interactive:
            await self._write(f"{self._bot_name}> ")
        clock = AnswerClock(msg.received_at)  # no sign on a terminal
        streamed = False
        async with aclosing(self._service.handle(msg)) as events:
            async for event in events:
                if isinstance(event, TextDelta):
                    if not streamed:
                        event = TextDelta(event.text.lstrip())
                    streamed = True
                    await self._write(event.text)
                    clock.first_token()
                elif isinstance(event, ReplyDone):
                    if streamed and event.status == "answered":
                        await self._write("\n")
                    else:
                        # Nothing (or a broken partial answer) was shown: show the final text.
                        await self._write(("\n" if streamed else "") + event.text + "\n")
                    if self._interactive:
                        await self._write("\n")
                    clock.complete()
                    if event.reply_id is not None:
                        await self._service.delivered(event.reply_id, None, clock.timings())
