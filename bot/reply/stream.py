"""Show a growing answer as chat messages: first text at once, throttled edits, split at the limit.

One engine for every platform and for live and recovered answers alike. A platform supplies a
`Surface`: how to post, edit and delete one message, how Markdown is written there, its length
limit and edit interval. A surface that finds a message too long raises `TooLong`; the engine then
shrinks its limit and lays the answer out again, so the tail continues in new messages. A surface
that can't be used at all raises `Unavailable` on its first post, and the engine continues on the
fallback surface. A message deleted meanwhile (`Gone` from an edit) is posted anew. Interim text
is a courtesy: if showing it fails, streaming stops and the final text is still delivered by
`finish`, whose errors are the caller's.

A stream can resume messages an earlier attempt posted (`shown`, e.g. before a crash): `finish`
edits them into the answer and deletes any surplus, so no fragment stays and nothing is posted
twice. `on_posted` hears the messages each time one is posted or deleted, to record their ids.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, Protocol, TypeVar

from bot.reply.split import split_message

log = logging.getLogger(__name__)

H = TypeVar("H")
MIN_LIMIT = 300  # a platform that keeps saying "too long" is never split finer than this


class TooLong(Exception):
    """The platform refused a message as too long (Slack's msg_too_long)."""


class Gone(Exception):
    """The message to edit no longer exists (someone deleted it); the engine posts it anew."""


class Unavailable(Exception):
    """This surface can't be used here (e.g. chat streaming refused by a workspace); nothing was shown."""


class Surface(Protocol[H]):
    """One platform's way to show a reply; H is its handle of a posted message."""

    limit: int  # characters per message
    edit_interval_s: float  # at most one edit per message per interval while streaming
    interim_suffix: str  # shown after interim text so a pause doesn't look like the end ("" for none)

    def render(self, markdown: str) -> str:
        """The answer (Markdown, as models write it) in the platform's own markup."""
        ...

    async def post(self, text: str, *, final: bool) -> H:
        """Post a new message; `final`: it is the reply's last message in its last version (the place
        for buttons)."""
        ...

    async def edit(self, handle: H, text: str, *, final: bool) -> H: ...

    async def delete(self, handle: H) -> None: ...


class ReplyStream(Generic[H]):
    """One reply spread over as many messages as it needs."""

    def __init__(
        self,
        surface: Surface[H],
        *,
        fallback: Surface[H] | None = None,
        on_fallback: Callable[[str], None] = lambda reason: None,
        clock: Callable[[], float] = time.monotonic,
        shown: Sequence[H] = (),
        on_posted: Callable[[list[H]], Awaitable[None]] | None = None,
    ) -> None:
        self._surface = surface
        self._fallback = fallback
        self._on_fallback = on_fallback
        self._interim_ok = True
        self._clock = clock
        self._limit = surface.limit
        self.messages: list[H] = list(shown)
        self._shown: list[str | None] = [None] * len(self.messages)  # None: unknown, always edited
        self._changed_at: list[float] = [float("-inf")] * len(self.messages)
        self._decorate = True
        self._on_posted = on_posted

    @property
    def visible(self) -> bool:
        """True once some text has been posted."""
        return bool(self.messages)

    @property
    def surface(self) -> Surface[H]:
        """The surface in use (the fallback once the first was unavailable)."""
        return self._surface

    async def update(self, markdown: str) -> None:
        """Show the answer so far: new pieces are posted at once, edits wait for the interval."""
        if not self._interim_ok or not markdown.strip():
            return
        try:
            await self._retrying(self._update, markdown)
        except Exception as exc:  # the platform's own error types: streaming stops, finish() retries
            self._interim_ok = False
            log.warning("showing the answer as it is written stopped: %s", exc)

    async def finish(self, markdown: str, *, decorate: bool = True) -> list[H]:
        """Show the complete answer. Its last message gets its final version (`final=True`: the place
        for buttons) when its text changed, or always with `decorate`. Pieces beyond the final text's
        are deleted. Returns the messages, first to last."""
        self._decorate = decorate
        await self._retrying(self._finish, markdown)
        return list(self.messages)

    async def _retrying(self, step: Callable[[str], Awaitable[None]], markdown: str) -> None:
        while True:
            try:
                await step(markdown)
                return
            except Unavailable as exc:
                if self._fallback is None or self.messages:
                    raise
                self._surface, self._fallback = self._fallback, None
                self._limit = self._surface.limit
                self._on_fallback(str(exc))
            except TooLong as exc:
                if self._limit <= MIN_LIMIT:
                    raise
                self._limit = max(MIN_LIMIT, self._limit * 2 // 3)
                log.info(
                    "a message was too long for the platform (%s); continuing in pieces of %d",
                    exc,
                    self._limit,
                )

    def _pieces(self, markdown: str) -> list[str]:
        return split_message(self._surface.render(markdown), self._limit)

    def _settled(self, markdown: str, now: float) -> bool:
        """Nothing to do yet: every message changed within the interval and the text still fits in
        as many messages as are shown (so no new one is due). Saves laying out every delta."""
        if not self.messages or now - max(self._changed_at) >= self._surface.edit_interval_s:
            return False
        return len(markdown) <= self._limit * len(self.messages)

    async def _update(self, markdown: str) -> None:
        now = self._clock()
        if self._settled(markdown, now):
            return
        pieces = self._pieces(markdown)
        suffix = self._surface.interim_suffix
        for i, piece in enumerate(pieces):
            text = piece + suffix if i == len(pieces) - 1 else piece
            if i >= len(self.messages):
                await self._post(text, final=False)
            elif text != self._shown[i] and now - self._changed_at[i] >= self._surface.edit_interval_s:
                await self._edit(i, text, final=False)

    async def _finish(self, markdown: str) -> None:
        pieces = self._pieces(markdown) or ["…"]
        for i, piece in enumerate(pieces):
            last = i == len(pieces) - 1
            if i >= len(self.messages):
                await self._post(piece, final=last)
            elif piece != self._shown[i] or (last and self._decorate):
                await self._edit(i, piece, final=last)
        surplus = len(self.messages) > len(pieces)
        while len(self.messages) > len(pieces):  # the final text is shorter than what was streamed
            await self._surface.delete(self.messages.pop())
            self._shown.pop()
            self._changed_at.pop()
        if surplus and self._on_posted is not None:
            await self._on_posted(list(self.messages))

    async def _post(self, text: str, *, final: bool) -> None:
        handle = await self._surface.post(text, final=final)
        self.messages.append(handle)
        self._shown.append(text)
        self._changed_at.append(self._clock())
        if self._on_posted is not None:
            await self._on_posted(list(self.messages))

    async def _edit(self, i: int, text: str, *, final: bool) -> None:
        try:
            self.messages[i] = await self._surface.edit(self.messages[i], text, final=final)
        except Gone:  # e.g. a part shown before a restart, deleted since: this part is posted again
            self.messages[i] = await self._surface.post(text, final=final)
            if self._on_posted is not None:
                await self._on_posted(list(self.messages))
        self._shown[i] = text
        self._changed_at[i] = self._clock()
