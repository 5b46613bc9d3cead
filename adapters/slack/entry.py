"""Slack's ways to reach a person: /escalate, /resolve, the message shortcut, the buttons and 👍/👎.

Each translates its payload into a ThreadKey and calls the core's escalation or feedback before it
acks (Bolt acks when the listener returns: `process_before_response`), so what the press changed is
stored when Slack hears of it; the person who acted is answered in the slash command's ack, or by an
ephemeral message posted after the ack.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.api import describe
from adapters.slack.blocks import (
    ESCALATE_SHORTCUT,
    FEEDBACK_ACTION,
    HUMAN_ACTION,
    SOLVED_ACTION,
    Block,
    decode,
    offer_human_blocks,
)
from adapters.slack.names import NameCache
from adapters.slack.payloads import PLATFORM, clean_text, is_dm_channel, team_of, thread_key
from adapters.slack.staff import StaffGroup
from bot.events import ThreadKey
from bot.handoff.states import Trigger
from bot.service import Person, Place, SupportService

log = logging.getLogger(__name__)

ESCALATE_COMMAND = "/escalate"
RESOLVE_COMMAND = "/resolve"
_LINK = re.compile(r"/archives/([A-Z0-9]+)/p(\d{10})(\d{6})(?:\?[^>|\s]*thread_ts=(\d+\.\d+))?")
REASON_CHARS = 500


async def _say(ack: AsyncAck, text: str) -> None:
    """Answer a slash command in its ack: only the person who typed it sees the text."""
    await ack(text=text, response_type="ephemeral")


def when(ts: str) -> str:
    """A Slack date token: every reader sees the moment in their own time zone."""
    seconds = ts.split(".", 1)[0]
    return f"<!date^{seconds}^{{date_short_pretty}} at {{time}}|earlier>" if seconds.isdigit() else "earlier"


def _link_key(team: str, text: str) -> ThreadKey | None:
    """The conversation a pasted message link points at, if any."""
    m = _LINK.search(text)
    if m is None:
        return None
    channel, ts = m.group(1), f"{m.group(2)}.{m.group(3)}"
    return thread_key(team, channel, ts, m.group(4), is_dm_channel(channel))


def where_clicked(body: Mapping[str, Any]) -> tuple[str, str | None]:
    """The channel and thread of the message whose button was clicked (ephemeral ones too)."""
    container = body.get("container") or {}
    message = body.get("message") or {}
    channel = container.get("channel_id") or (body.get("channel") or {}).get("id") or ""
    return str(channel), message.get("thread_ts") or container.get("thread_ts")


def _complete(command: Mapping[str, Any]) -> bool:
    """A slash command that names who typed it, where, and in which workspace."""
    return all(command.get(name) for name in ("user_id", "channel_id", "team_id"))


def clicked_place(body: Mapping[str, Any]) -> Place:
    """The channel a button was pressed in (the core checks it is the button's conversation's)."""
    channel, _ = where_clicked(body)
    return Place(PLATFORM, team_of(body), channel, None, is_dm_channel(channel))


def _place(command: Mapping[str, Any]) -> Place:
    """Where a slash command was typed (Slack sends no thread with one)."""
    channel = str(command.get("channel_id", ""))
    is_dm = is_dm_channel(channel) or command.get("channel_name") == "directmessage"
    return Place(PLATFORM, str(command.get("team_id", "")), channel, None, is_dm)


class SlackEntryPoints:
    """The Bolt listeners for escalation and feedback; thin: payload in, core call, short answer out."""

    def __init__(
        self,
        service: SupportService,
        client: AsyncWebClient,
        names: NameCache | None = None,
        staff: StaffGroup | None = None,
        *,
        spawn: Callable[[Coroutine[Any, Any, Any]], None] | None = None,
    ) -> None:
        self._service = service
        self._client = client
        self._names = names
        self._staff = staff
        self._spawn = spawn  # runs work after the ack (the adapter tracks it); None: await it

    def register(self, bolt: AsyncApp) -> None:
        bolt.command(ESCALATE_COMMAND)(self.on_escalate)
        bolt.command(RESOLVE_COMMAND)(self.on_resolve)
        bolt.shortcut(ESCALATE_SHORTCUT)(self.on_shortcut)
        bolt.action(HUMAN_ACTION)(self.on_human_button)
        bolt.action(re.compile(f"^{FEEDBACK_ACTION}"))(self.on_feedback)
        bolt.action(SOLVED_ACTION)(self.on_solved)

    async def _person(self, user: str, *, staff: bool = False) -> Person:
        """The person who acted; with `staff`, the roles that make them staff (the user group)."""
        name = await self._names.get(user) if self._names is not None else user
        roles = await self._staff.roles_of(user) if staff and self._staff is not None else ()
        return Person(user, name, roles)

    async def on_escalate(self, ack: AsyncAck, command: dict[str, Any]) -> None:
        """/escalate [reason]: the core picks the conversation (the user's latest one here)."""
        if not _complete(command):
            await ack()  # nobody to answer, nowhere to act: a no-op
            return
        person = Person(str(command.get("user_id", "")))
        await _say(
            ack, await self._service.escalate_command(_place(command), person, command.get("text", ""))
        )

    async def on_resolve(self, ack: AsyncAck, command: dict[str, Any]) -> None:
        """/resolve [message link] (staff): the core picks the conversation."""
        if not _complete(command):
            await ack()
            return
        person = await self._person(str(command.get("user_id", "")), staff=True)
        link = _link_key(str(command.get("team_id", "")), str(command.get("text", "")))
        await _say(ack, await self._service.resolve_command(_place(command), person, link))

    async def on_shortcut(self, ack: AsyncAck, shortcut: dict[str, Any], body: dict[str, Any]) -> None:
        """The message shortcut "Escalate to a human": works inside threads, unlike slash commands."""
        message = shortcut.get("message") or {}
        channel, user = str((shortcut.get("channel") or {}).get("id", "")), str(shortcut["user"]["id"])
        thread_ts = message.get("thread_ts")
        if not channel or not isinstance(message.get("ts"), str) or not isinstance(thread_ts, str | None):
            await ack()
            return
        is_dm = is_dm_channel(channel)
        key = thread_key(team_of(body), channel, message["ts"], thread_ts, is_dm)
        reason = clean_text(str(message.get("text", "")), None)[:REASON_CHARS] or "Escalate to a human"
        text = await self._service.escalate(key, Person(user), reason, Trigger.SHORTCUT)
        await ack()
        await self._after_ack(
            self._ephemeral(channel, user, text, thread_ts or (None if is_dm else message["ts"]))
        )

    async def on_human_button(self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        value = decode(str(action.get("value", "")))
        user = str(body["user"]["id"])
        channel, thread_ts = where_clicked(body)
        if value is None:
            await ack()
            return
        trigger = Trigger.FEEDBACK if value.kind == "feedback" else Trigger.BUTTON
        text = await self._service.escalate_reply(value.reply_id, Person(user), trigger, clicked_place(body))
        await ack()
        await self._after_ack(self._ephemeral(channel, user, text, thread_ts))

    async def on_feedback(self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        """👍/👎 from the feedback_buttons element or the classic buttons; a 👎 offers a person."""
        value = decode(str(action.get("value", "")))
        if value is None or value.kind not in ("up", "down"):
            await ack()
            return
        user = str(body["user"]["id"])
        said = await self._service.feedback(
            value.reply_id, Person(user), helpful=value.kind == "up", place=clicked_place(body)
        )
        await ack()
        channel, thread_ts = where_clicked(body)
        blocks = offer_human_blocks(said.text, value.reply_id) if said.offer_human else None
        await self._after_ack(self._ephemeral(channel, user, said.text, thread_ts, blocks))

    async def _after_ack(self, work: Coroutine[Any, Any, None]) -> None:
        """Slack answers the request only once the listener returns: slow work goes after it."""
        if self._spawn is None:
            await work
        else:
            self._spawn(work)

    async def on_solved(self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        """ "That solved it" under an answer: the core counts it from the person it answered."""
        await ack()
        value = decode(str(action.get("value", "")))
        if value is None or value.kind != "solved":
            return
        user = str(body["user"]["id"])
        text = await self._service.solved(value.reply_id, Person(user), clicked_place(body))
        channel, thread_ts = where_clicked(body)
        await self._ephemeral(channel, user, text, thread_ts)

    async def _ephemeral(
        self, channel: str, user: str, text: str, thread_ts: str | None, blocks: list[Block] | None = None
    ) -> None:
        args: dict[str, Any] = {"channel": channel, "user": user, "text": text}
        if thread_ts:
            args["thread_ts"] = thread_ts
        if blocks:
            args["blocks"] = blocks
        try:
            await self._client.chat_postEphemeral(**args)
        except SlackApiError as exc:
            log.error("%s", describe("chat.postEphemeral", exc))
