"""One answer's life in Slack: the visible sign, the streamed text, the final message with its buttons.

`ReplyWriter` remembers what each workspace refused (assistant status, chat streaming, feedback
buttons) so the fallback costs one failed call per workspace, not one per answer.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable
from enum import StrEnum

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.api import describe, error_code
from adapters.slack.blocks import reply_actions
from adapters.slack.payloads import Origin
from adapters.slack.stream import EditSurface, NativeSurface, Target
from bot.events import ReplyDone, ReplyStatus
from bot.reply.stream import ReplyStream
from bot.settings import SlackSettings

log = logging.getLogger(__name__)

THINKING = "is thinking…"
REACTION = "eyes"
# Slack removes an assistant status after two minutes without a message (assistant.threads.setStatus),
# so a slow answer renews it; at most a few times, so a status never taken back still ends.
STATUS_RENEW_S = 60.0
STATUS_RENEWALS = 10
Posted = Callable[[list[str]], Awaitable[None]]  # hears the ts of an answer's messages so far


class Sign(StrEnum):
    """What shows the user their message is being worked on, so it can be taken back."""

    NONE = "none"
    STATUS = "status"  # assistant thread status ("is thinking…"), renewed until Slack clears it on the reply
    REACTION = "reaction"  # 👀 on the user's message


class ReplyWriter:
    """Shared by all answers of one adapter: the client, the settings and what Slack refused."""

    def __init__(
        self, client: AsyncWebClient, settings: SlackSettings, *, status_renew_s: float = STATUS_RENEW_S
    ) -> None:
        self.client = client
        self.settings = settings
        self._status_renew_s = status_renew_s
        self._answers: weakref.WeakValueDictionary[str, Writing] = weakref.WeakValueDictionary()  # by ts
        self._status_ok: dict[tuple[str, bool], bool] = {}  # (team, is_dm) → assistant status works
        self._native_ok: dict[str, bool] = {}  # team → chat streaming works
        self.native_feedback = True  # the feedback_buttons element is accepted

    async def sign(self, where: Origin) -> Sign:
        """Within a round trip: the assistant status where the workspace has it (renewed until the
        answer's first text shows), else a reaction."""
        place = (where.team, where.is_dm)
        if where.thread_ts and self._status_ok.get(place, True):
            try:
                await self.client.assistant_threads_setStatus(
                    channel_id=where.channel, thread_ts=where.thread_ts, status=THINKING
                )
                self._status_ok[place] = True
                self._keep_status(where, where.thread_ts)
                return Sign.STATUS
            except SlackApiError as exc:
                self._status_ok[place] = False
                log.info("Slack assistant status unavailable here (%s); reacting instead", error_code(exc))
        try:
            await self.client.reactions_add(channel=where.channel, timestamp=where.ts, name=REACTION)
            return Sign.REACTION
        except SlackApiError as exc:
            log.warning("%s", describe("reactions.add", exc))
            return Sign.NONE

    def _keep_status(self, where: Origin, thread_ts: str) -> None:
        """Renew the status if the answer hasn't shown when it is due: a timer, not a task, as nearly
        every answer shows long before and cancels it."""
        answer = self._answers.get(where.ts)
        if answer is not None and not answer.shown:
            answer.renewing = asyncio.get_running_loop().call_later(
                self._status_renew_s, self._start_renewing, where.ts, where.channel, thread_ts
            )

    def _start_renewing(self, ts: str, channel: str, thread_ts: str) -> None:
        answer = self._answers.get(ts)  # by its ts: the timer doesn't keep a finished answer alive
        if answer is not None and not answer.shown:
            answer.renewing = asyncio.create_task(self._renew_status(channel, thread_ts))

    async def _renew_status(self, channel: str, thread_ts: str) -> None:
        """Set the status again before Slack lets it lapse; the answer cancels this once it shows."""
        for renewal in range(STATUS_RENEWALS):
            if renewal:
                await asyncio.sleep(self._status_renew_s)
            try:
                await self.client.assistant_threads_setStatus(
                    channel_id=channel, thread_ts=thread_ts, status=THINKING
                )
            except SlackApiError as exc:
                log.info("could not renew the Slack assistant status: %s", error_code(exc))
                return

    async def unsign(self, where: Origin, sign: Sign, *, replied: bool) -> None:
        """Take the sign back: the reaction always, the status only if no reply cleared it."""
        answer = self._answers.get(where.ts)
        if answer is not None:
            answer.stop_renewing()
        try:
            if sign is Sign.REACTION:
                await self.client.reactions_remove(channel=where.channel, timestamp=where.ts, name=REACTION)
            elif sign is Sign.STATUS and not replied and where.thread_ts:
                await self.client.assistant_threads_setStatus(
                    channel_id=where.channel, thread_ts=where.thread_ts, status=""
                )
        except SlackApiError as exc:
            log.info("could not take back the Slack progress sign: %s", error_code(exc))

    def wants_native(self, where: Origin) -> bool:
        mode = self.settings.stream
        if mode == "edits" or where.thread_ts is None:  # streams are always thread replies
            return False
        return mode == "native" or self._native_ok.get(where.team, True)

    def native_refused(self, where: Origin, code: str) -> None:
        self._native_ok[where.team] = False
        log.info("Slack chat streaming refused (%s); answering with edits in team %s", code, where.team)

    def begin(self, where: Origin, on_posted: Posted | None = None) -> Writing:
        """An answer about to be written; `on_posted` hears the ts of its messages as each is posted."""
        writing = Writing(self, where, on_posted)
        self._answers[where.ts] = writing
        return writing


class Writing:
    """One answer in progress through the core's reply pipeline: add deltas, then finish."""

    def __init__(self, writer: ReplyWriter, where: Origin, on_posted: Posted | None = None) -> None:
        self._writer = writer
        target = Target(where.channel, where.thread_ts, where.team, where.user)
        s = writer.settings
        self._surfaces: list[EditSurface | NativeSurface] = [
            EditSurface(writer.client, target, s.max_interim_chars, s.edit_interval_s)
        ]
        if writer.wants_native(where):
            native = NativeSurface(writer.client, target, s.max_interim_chars, s.edit_interval_s)
            self._surfaces.insert(0, native)
            self._stream: ReplyStream[str] = ReplyStream(
                native,
                fallback=self._surfaces[1],
                on_fallback=lambda code: writer.native_refused(where, code),
                on_posted=on_posted,
            )
        else:
            self._stream = ReplyStream(self._surfaces[0], on_posted=on_posted)
        self._text = ""
        # The assistant status kept up meanwhile: the timer until its first renewal, then the renewals.
        self.renewing: asyncio.TimerHandle | asyncio.Task[None] | None = None

    @property
    def shown(self) -> bool:
        """Some of the answer is in the thread (which clears an assistant status)."""
        return self._stream.visible

    def stop_renewing(self) -> None:
        if self.renewing is not None:
            self.renewing.cancel()
            self.renewing = None

    async def add(self, delta: str) -> None:
        self._text += delta
        await self._stream.update(self._text.lstrip())
        if self.shown:
            self.stop_renewing()

    async def finish(self, done: ReplyDone) -> str:
        """Show `done.text` with its buttons; returns the ts of the answer's first message."""
        self.stop_renewing()
        native_feedback = done.status is ReplyStatus.ANSWERED and self._writer.native_feedback
        try:
            return await self._finish(done, native_feedback)
        except SlackApiError as exc:
            if not native_feedback or error_code(exc) != "invalid_blocks":
                raise
            self._writer.native_feedback = False
            log.info("Slack refused the feedback_buttons block; using plain 👍/👎 buttons from now on")
            return await self._finish(done, native_feedback=False)

    async def _finish(self, done: ReplyDone, native_feedback: bool) -> str:
        actions = reply_actions(done, native_feedback=native_feedback) or []
        for surface in self._surfaces:
            surface.actions = actions
        posted = await self._stream.finish(done.text)
        return posted[0]
