"""Writing one answer into Slack as it streams: native chat streaming, or throttled chat.update edits.

Edits: the first text is posted, then edited at most once per interval; text beyond the chunk limit
continues in new messages, and a `msg_too_long` from Slack shrinks the limit and re-splits.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.api import error_code
from adapters.slack.blocks import Block, text_blocks
from adapters.slack.mrkdwn import cut_point, split_mrkdwn, to_mrkdwn

log = logging.getLogger(__name__)

MIN_CHUNK = 300  # never split finer than this on msg_too_long
TYPING = " …"  # shown after interim text so a pause does not look like the end
Actions = Callable[[bool], list[Block]]  # native_feedback → the blocks under the answer


@dataclass(frozen=True, slots=True)
class Target:
    """Where an answer goes and who asked (native streaming in channels needs the recipient)."""

    channel: str
    thread_ts: str | None
    team: str
    user: str


class NativeUnavailable(Exception):
    """chat.startStream was refused: this workspace answers with edits instead."""


@dataclass
class _Posted:
    ts: str
    text: str


@dataclass
class EditStream:
    """An answer as messages edited with chat.update, at most once per `interval` seconds."""

    client: AsyncWebClient
    target: Target
    limit: int
    interval: float
    clock: Callable[[], float] = time.monotonic
    posted: list[_Posted] = field(default_factory=list)
    _last: float = float("-inf")

    async def update(self, markdown: str) -> None:
        if self.clock() - self._last < self.interval:
            return
        self._last = self.clock()
        await self._render(to_mrkdwn(markdown), None)

    async def finish(self, markdown: str, actions: list[Block] | None) -> str:
        """Show the final text (with the buttons under its last part); returns the first message's ts."""
        mrkdwn = to_mrkdwn(markdown)
        await self._render(mrkdwn, actions if actions is not None else [])
        keep = len(self._chunks(mrkdwn))
        for extra in self.posted[keep:]:  # a shorter final text (e.g. an apology) than streamed
            await self.client.chat_delete(channel=self.target.channel, ts=extra.ts)
        del self.posted[keep:]
        return self.posted[0].ts

    def _chunks(self, mrkdwn: str) -> list[str]:
        return split_mrkdwn(mrkdwn, self.limit)

    async def _render(self, mrkdwn: str, actions: list[Block] | None) -> None:
        """Post or edit each chunk that changed; `actions` None = interim."""
        while True:
            chunks = self._chunks(mrkdwn)
            try:
                for i, chunk in enumerate(chunks):
                    last = i == len(chunks) - 1
                    text = chunk + TYPING if actions is None and last else chunk
                    blocks = text_blocks(chunk) + actions if actions and last else None
                    await self._put(i, text, blocks)
                return
            except SlackApiError as exc:
                if error_code(exc) != "msg_too_long" or self.limit <= MIN_CHUNK:
                    raise
                self.limit = max(MIN_CHUNK, self.limit * 2 // 3)
                log.info("Slack said msg_too_long; continuing in messages of %d characters", self.limit)

    async def _put(self, i: int, text: str, blocks: list[Block] | None) -> None:
        args: dict[str, Any] = {"channel": self.target.channel, "text": text}
        if blocks is not None:
            args["blocks"] = blocks
        if i < len(self.posted):
            if self.posted[i].text == text and blocks is None:
                return
            await self.client.chat_update(ts=self.posted[i].ts, **args)
            self.posted[i].text = text
            return
        if self.target.thread_ts:
            args["thread_ts"] = self.target.thread_ts
        resp = await self.client.chat_postMessage(**args)
        self.posted.append(_Posted(str(resp["ts"]), text))


@dataclass
class NativeStream:
    """An answer through chat.startStream/appendStream/stopStream; Slack renders the Markdown itself.

    One stream message holds at most `limit` characters; the rest continues in a new stream message.
    """

    client: AsyncWebClient
    target: Target
    limit: int
    interval: float
    clock: Callable[[], float] = time.monotonic
    ts: list[str] = field(default_factory=list)  # one per stream message
    _open: bool = False
    _shown: str = ""  # the Markdown already sent
    _in_current: int = 0  # characters in the open stream message
    _last: float = float("-inf")

    async def update(self, markdown: str) -> None:
        if self._open and self.clock() - self._last < self.interval:
            return
        self._last = self.clock()
        await self._send(markdown)

    async def _send(self, markdown: str) -> None:
        while len(self._shown) < len(markdown):
            room = self.limit - self._in_current
            if room <= 0:
                await self._stop()
                continue
            rest = markdown[len(self._shown) :]
            piece = rest[: cut_point(rest, room)]
            try:
                if self._open:
                    await self.client.chat_appendStream(
                        channel=self.target.channel, ts=self.ts[-1], markdown_text=piece
                    )
                else:
                    await self._start(piece)
            except SlackApiError as exc:
                if error_code(exc) != "msg_too_long" or self.limit <= MIN_CHUNK:
                    raise
                self.limit = max(MIN_CHUNK, self.limit * 2 // 3)
                log.info("Slack said msg_too_long; streaming in messages of %d characters", self.limit)
                if self._open and self._in_current:
                    await self._stop()
                continue
            self._shown += piece
            self._in_current += len(piece)

    async def _start(self, text: str) -> None:
        assert self.target.thread_ts is not None
        try:
            resp = await self.client.chat_startStream(
                channel=self.target.channel,
                thread_ts=self.target.thread_ts,
                markdown_text=text,
                recipient_team_id=self.target.team or None,
                recipient_user_id=self.target.user,
            )
        except SlackApiError as exc:
            if not self.ts and error_code(exc) != "msg_too_long":
                raise NativeUnavailable(error_code(exc)) from exc
            raise
        self.ts.append(str(resp["ts"]))
        self._open = True
        self._in_current = 0

    async def _stop(self, blocks: list[Block] | None = None) -> None:
        await self.client.chat_stopStream(channel=self.target.channel, ts=self.ts[-1], blocks=blocks)
        self._open = False
        self._in_current = 0

    async def finish(
        self, markdown: str, actions: list[Block] | None, *, streamed_as_final: bool
    ) -> str | None:
        """Close the stream with the buttons; None when nothing was streamed (post it normally)."""
        if not self.ts:
            return None
        if streamed_as_final and markdown.startswith(self._shown.rstrip()):
            await self._send(markdown)
            if not self._open:  # the last piece filled a message exactly: the buttons go on a new one
                await self._start(" ")
            await self._stop(actions)
            return self.ts[0]
        # The final text is not what was streamed (e.g. an apology after a broken stream): replace it.
        if self._open:
            await self._stop()
        edit = EditStream(self.client, self.target, limit=self.limit, interval=0)
        edit.posted = [_Posted(ts, "") for ts in self.ts]
        return await edit.finish(markdown, actions)
