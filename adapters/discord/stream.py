"""Show a growing answer as chat messages: first text at once, throttled edits, split at the size limit.

Platform-neutral: the adapter passes the post/edit/delete calls, so the timing rules can be read (and
tested) apart from Discord's client.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from adapters.discord.split import MESSAGE_LIMIT, split_message

M = TypeVar("M")

Post = Callable[[str, bool], Awaitable[M]]  # (text, final) -> the sent message
Edit = Callable[[M, str, bool], Awaitable[M]]  # (message, text, final) -> the edited message
Delete = Callable[[M], Awaitable[None]]


class StreamedReply(Generic[M]):
    """One answer spread over as many messages as it needs; `final` marks the last message's last version."""

    def __init__(
        self,
        post: Post[M],
        edit: Edit[M],
        delete: Delete[M],
        *,
        interval_s: float,
        limit: int = MESSAGE_LIMIT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._post = post
        self._edit = edit
        self._delete = delete
        self._interval = interval_s
        self._limit = limit
        self._clock = clock
        self.messages: list[M] = []
        self._shown: list[str] = []
        self._changed_at: list[float] = []

    @property
    def visible(self) -> bool:
        """True once some text has been posted."""
        return bool(self.messages)

    async def update(self, text: str) -> None:
        """Show `text` so far: new pieces are posted at once, edits wait for the interval."""
        now = self._clock()
        for i, piece in enumerate(split_message(text, self._limit)):
            if i >= len(self.messages):
                await self._append(piece, final=False)
            elif piece != self._shown[i] and now - self._changed_at[i] >= self._interval:
                await self._replace(i, piece, final=False)

    async def finish(self, text: str, *, decorate: bool) -> M:
        """Show the complete `text`; the last message is edited (or posted) with final=True when
        `decorate` (e.g. to add buttons) or when its text changed. Returns the last message."""
        pieces = split_message(text, self._limit) or ["…"]
        for i, piece in enumerate(pieces):
            last = i == len(pieces) - 1
            if i >= len(self.messages):
                await self._append(piece, final=last)
            elif piece != self._shown[i] or (last and decorate):
                await self._replace(i, piece, final=last)
        while len(self.messages) > len(pieces):  # the final text is shorter than what was streamed
            await self._delete(self.messages.pop())
            self._shown.pop()
            self._changed_at.pop()
        return self.messages[-1]

    async def _append(self, piece: str, *, final: bool) -> None:
        now = self._clock()
        message = await self._post(piece, final)
        self.messages.append(message)
        self._shown.append(piece)
        self._changed_at.append(now)

    async def _replace(self, i: int, piece: str, *, final: bool) -> None:
        now = self._clock()
        self.messages[i] = await self._edit(self.messages[i], piece, final)
        self._shown[i] = piece
        self._changed_at[i] = now
