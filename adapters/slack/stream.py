"""Slack's two surfaces for the core's reply pipeline: messages edited with chat.update, and chat streaming.

`EditSurface` posts mrkdwn and edits it (throttled by the pipeline), with the buttons on the final
version. `NativeSurface` writes through chat.startStream/appendStream/stopStream (Slack renders the
Markdown itself); a message whose text changes other than by growing is replaced with chat.update.
Both turn Slack's `msg_too_long` into the pipeline's `TooLong`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.api import error_code
from adapters.slack.blocks import Block, text_blocks
from adapters.slack.mrkdwn import defuse, to_mrkdwn
from bot.reply.stream import Gone, TooLong, Unavailable

TYPING = " …"  # shown after interim text so a pause does not look like the end


@dataclass(frozen=True, slots=True)
class Target:
    """Where an answer goes and who asked (native streaming in channels needs the recipient)."""

    channel: str
    thread_ts: str | None
    team: str
    user: str


def _too_long(exc: SlackApiError) -> Exception:
    """The pipeline's own error for what it handles (too long, deleted), else Slack's."""
    code = error_code(exc)
    if code == "msg_too_long":
        return TooLong("Slack said msg_too_long")
    return Gone(code) if code == "message_not_found" else exc


@dataclass
class EditSurface:
    """An answer as mrkdwn messages, edited in place; the final version carries `actions`."""

    client: AsyncWebClient
    target: Target
    limit: int
    edit_interval_s: float
    actions: list[Block] = field(default_factory=list)  # the buttons under the final version
    interim_suffix: str = TYPING

    def render(self, markdown: str) -> str:
        return to_mrkdwn(markdown)

    def _args(self, text: str, final: bool) -> dict[str, Any]:
        args: dict[str, Any] = {"channel": self.target.channel, "text": text}
        if final:
            args["blocks"] = text_blocks(text) + self.actions
        return args

    async def post(self, text: str, *, final: bool) -> str:
        args = self._args(text, final)
        if self.target.thread_ts:
            args["thread_ts"] = self.target.thread_ts
        try:
            resp = await self.client.chat_postMessage(**args)
        except SlackApiError as exc:
            raise _too_long(exc) from exc
        return str(resp["ts"])

    async def edit(self, handle: str, text: str, *, final: bool) -> str:
        try:
            await self.client.chat_update(ts=handle, **self._args(text, final))
        except SlackApiError as exc:
            raise _too_long(exc) from exc
        return handle

    async def delete(self, handle: str) -> None:
        await self.client.chat_delete(channel=self.target.channel, ts=handle)


@dataclass
class NativeSurface:
    """An answer through Slack's chat streaming; one stream message open at a time."""

    client: AsyncWebClient
    target: Target
    limit: int
    edit_interval_s: float
    actions: list[Block] = field(default_factory=list)
    interim_suffix: str = ""  # a stream only grows: nothing to take back
    _sent: dict[str, str] = field(default_factory=dict)  # ts → the Markdown streamed into it
    _open: str | None = None  # ts of the stream message still open

    def render(self, markdown: str) -> str:
        return defuse(markdown)  # Slack renders a stream's Markdown itself (and may read mentions)

    async def post(self, text: str, *, final: bool) -> str:
        assert self.target.thread_ts is not None  # streams are always thread replies
        await self._stop()
        try:
            resp = await self.client.chat_startStream(
                channel=self.target.channel,
                thread_ts=self.target.thread_ts,
                markdown_text=text,
                recipient_team_id=self.target.team or None,
                recipient_user_id=self.target.user,
            )
        except SlackApiError as exc:
            if not self._sent and error_code(exc) != "msg_too_long":
                raise Unavailable(error_code(exc)) from exc  # this workspace answers with edits
            raise _too_long(exc) from exc
        ts = str(resp["ts"])
        self._sent[ts], self._open = text, ts
        if final:
            await self._stop(self.actions)
        return ts

    async def edit(self, handle: str, text: str, *, final: bool) -> str:
        sent = self._sent.get(handle, "")
        try:
            if handle == self._open and text.startswith(sent):
                more = text[len(sent) :]
                if final:  # the last words go with the stop: one call, not two
                    await self._stop(self.actions, more)
                elif more:
                    await self.client.chat_appendStream(
                        channel=self.target.channel, ts=handle, markdown_text=more
                    )
                self._sent[handle] = text
                return handle
            # Not a continuation (a shorter piece, or an apology after a broken stream): replace it.
            if handle == self._open:
                await self._stop()
            mrkdwn = to_mrkdwn(text)
            blocks = text_blocks(mrkdwn) + self.actions if final else None
            await self.client.chat_update(channel=self.target.channel, ts=handle, text=mrkdwn, blocks=blocks)
        except SlackApiError as exc:
            raise _too_long(exc) from exc
        self._sent[handle] = text
        return handle

    async def delete(self, handle: str) -> None:
        if handle == self._open:
            await self._stop()
        await self.client.chat_delete(channel=self.target.channel, ts=handle)

    async def _stop(self, blocks: list[Block] | None = None, more: str = "") -> None:
        """Close the open stream, appending `more` first. If that fails with text to append, the
        stream stays open, so the next post closes it (e.g. the tail moving on after msg_too_long)."""
        if self._open is None:
            return
        ts = self._open
        if not more:
            self._open = None
        await self.client.chat_stopStream(
            channel=self.target.channel, ts=ts, markdown_text=more or None, blocks=blocks
        )
        self._open = None
