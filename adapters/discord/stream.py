"""Discord's surface for the core's reply pipeline: messages sent and edited in a channel or thread.

Answers go without link previews (a Sources list would bury the answer under page cards); the first
message may reply to the question; the buttons go on the last message's final version.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import discord

MESSAGE_LIMIT = 2000  # characters of message content
Reference = discord.Message | discord.MessageReference


class DiscordSurface:
    """Where one reply is shown; `view` (the buttons) may be set once the reply is complete."""

    limit = MESSAGE_LIMIT
    interim_suffix = ""

    def __init__(
        self,
        channel: Callable[[], Awaitable[discord.abc.Messageable]],
        *,
        edit_interval_s: float,
        reference: Callable[[], Reference | None] = lambda: None,
        view: discord.ui.View | None = None,
    ) -> None:
        self._channel = channel
        self._reference = reference  # asked once per post: only the first post replies
        self.edit_interval_s = edit_interval_s
        self.view = view

    def render(self, markdown: str) -> str:
        return markdown  # Discord writes Markdown

    async def post(self, text: str, *, final: bool) -> discord.Message:
        extra: dict[str, Any] = {"suppress_embeds": True}
        reference = self._reference()
        if reference is not None:
            extra["reference"] = reference
        if final and self.view is not None:
            extra["view"] = self.view
        return await (await self._channel()).send(text, **extra)

    async def edit(self, handle: discord.Message, text: str, *, final: bool) -> discord.Message:
        if final and self.view is not None:
            return await handle.edit(content=text, view=self.view)
        return await handle.edit(content=text)

    async def delete(self, handle: discord.Message) -> None:
        await handle.delete()
