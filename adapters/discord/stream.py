"""Discord's surface for the core's reply pipeline: messages sent and edited in a channel or thread.

Answers go without link previews (a Sources list would bury the answer under page cards); the first
message may reply to the question; the buttons go on the last message's final version.
Each part is sent with a nonce made of the question's id and the part's number (Discord's
`enforce_nonce`): sending a part again, after a crash between the send and noting its id, returns
the message already posted instead of a second one, which is then edited to the text.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import discord

from bot.reply.stream import Gone

MESSAGE_LIMIT = 2000  # characters of message content
UNKNOWN_MESSAGE = 10008  # Discord's error code for a message that no longer exists
NONCE_CHARS = 25  # Discord's limit on a nonce
Reference = discord.Message | discord.MessageReference
Handle = discord.Message | discord.PartialMessage  # a part posted now, or one known by id (resumed)


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
        nonce: str | None = None,
        posted: int = 0,
    ) -> None:
        """`nonce`: the question's id, the base of each part's nonce; `posted`: parts an earlier
        attempt posted (resumed), so the next part keeps its number."""
        self._channel = channel
        self._reference = reference  # asked once per post: only the first post replies
        self.edit_interval_s = edit_interval_s
        self.view = view
        self._nonce = nonce
        self._posts = posted

    def render(self, markdown: str) -> str:
        return markdown  # Discord writes Markdown

    async def post(self, text: str, *, final: bool) -> Handle:
        extra: dict[str, Any] = {"suppress_embeds": True}
        reference = self._reference()
        if reference is not None:
            extra["reference"] = reference
        if final and self.view is not None:
            extra["view"] = self.view
        nonce = f"{self._nonce}.{self._posts}" if self._nonce else ""
        if nonce and len(nonce) <= NONCE_CHARS:
            extra["nonce"] = nonce  # discord.py sends enforce_nonce with it
        self._posts += 1
        message = await (await self._channel()).send(text, **extra)
        if message.content != text:  # the nonce found this part posted before, as it was then
            return await self.edit(message, text, final=final)
        return message

    async def edit(self, handle: Handle, text: str, *, final: bool) -> Handle:
        try:
            if final and self.view is not None:
                return await handle.edit(content=text, view=self.view)
            return await handle.edit(content=text)
        except discord.NotFound as exc:
            if exc.code == UNKNOWN_MESSAGE:
                raise Gone(str(exc)) from exc
            raise

    async def delete(self, handle: Handle) -> None:
        await handle.delete()
