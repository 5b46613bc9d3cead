"""Slack's ways to reach a person: /escalate, /resolve, the message shortcut, the buttons and 👍/👎.

Each translates its payload into a ThreadKey and calls the core's escalation or feedback; the
person who acted is answered within Slack's 3 seconds (the slash command's ack, or an ephemeral).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
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
    Block,
    decode,
    offer_human_blocks,
)
from adapters.slack.names import NameCache
from adapters.slack.payloads import PLATFORM, clean_text, is_dm_channel, team_of, thread_key
from adapters.slack.staff import StaffGroup
from bot.app import App
from bot.events import ThreadKey
from bot.handoff.escalation import EscalationError

log = logging.getLogger(__name__)

ESCALATE_COMMAND = "/escalate"
RESOLVE_COMMAND = "/resolve"
NO_CONVERSATION = (
    "I don't have a conversation with you in this channel yet. Mention me with your question, or use"
    " the “Escalate to a human” shortcut on a message in the thread you mean."
)
OFFER_AFTER_DOWNVOTE = "Sorry that didn't help. Would you like a person from our team to take over?"
THANKS = "Thanks for the feedback!"
_LINK = re.compile(r"/archives/([A-Z0-9]+)/p(\d{10})(\d{6})(?:\?[^>|\s]*thread_ts=(\d+\.\d+))?")
REASON_CHARS = 500


async def _say(ack: AsyncAck, text: str) -> None:
    """Answer a slash command in its ack: only the person who typed it sees the text."""
    await ack(text=text, response_type="ephemeral")


def _when(ts: str) -> str:
    """A Slack date token: every reader sees the thread's start in their own time zone."""
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


class SlackEntryPoints:
    """The Bolt listeners for escalation and feedback; thin: payload in, core call, short answer out."""

    def __init__(
        self,
        app: App,
        client: AsyncWebClient,
        names: NameCache | None = None,
        staff: StaffGroup | None = None,
    ) -> None:
        self._app = app
        self._client = client
        self._names = names
        self._staff = staff

    def register(self, bolt: AsyncApp) -> None:
        bolt.command(ESCALATE_COMMAND)(self.on_escalate)
        bolt.command(RESOLVE_COMMAND)(self.on_resolve)
        bolt.shortcut(ESCALATE_SHORTCUT)(self.on_shortcut)
        bolt.action(HUMAN_ACTION)(self.on_human_button)
        bolt.action(re.compile(f"^{FEEDBACK_ACTION}"))(self.on_feedback)

    async def on_escalate(self, ack: AsyncAck, command: dict[str, Any]) -> None:
        """/escalate [reason]: Slack sends no thread, so take the user's latest conversation here."""
        team, channel, user = command.get("team_id", ""), command["channel_id"], command["user_id"]
        is_dm = is_dm_channel(channel) or command.get("channel_name") == "directmessage"
        conv = await self._app.store.latest_conversation_of_user(PLATFORM, team, channel, user)
        if conv is not None:
            key = conv.key
        elif is_dm:
            key = thread_key(team, channel, "", None, True)
        else:
            await _say(ack, NO_CONVERSATION)
            return
        reason = command.get("text", "").strip() or "asked with /escalate"
        try:
            outcome = await self._app.escalations.escalate(
                key, user_id=user, reason=reason, trigger="command"
            )
        except EscalationError as exc:
            await _say(ack, str(exc))
            return
        which = "this DM" if key.thread == channel else f"our thread that started {_when(key.thread)}"
        await _say(ack, f"{outcome.message} (Escalated: {which}.)")

    async def on_resolve(self, ack: AsyncAck, command: dict[str, Any]) -> None:
        """/resolve [message link] (staff): the linked conversation, else the one open escalation here.

        A link into a handoff card's thread, or the staff channel itself, means the conversation the
        card is about (Slack sends no thread with a slash command).
        """
        team, channel, user = command.get("team_id", ""), command["channel_id"], command["user_id"]
        roles = await self._staff.roles_of(user) if self._staff is not None else ()
        if not self._app.escalations.is_staff(user, roles):
            await _say(ack, "Only support staff can resolve escalations.")
            return
        key = _link_key(team, command.get("text", ""))
        if key is not None:
            card = await self._app.store.escalation_by_staff_thread(PLATFORM, key.channel, key.thread)
            key = card[1] if card is not None else key
        else:
            here = [
                k
                for e, k in await self._app.store.open_escalations()
                if k.channel == channel or (e.staff_platform == PLATFORM and e.staff_channel == channel)
            ]
            if len(here) != 1:
                count = "no open escalation" if not here else f"{len(here)} open escalations"
                await _say(
                    ack,
                    f"There is {count} in this channel: use `/resolve <link to a message in the thread>`.",
                )
                return
            key = here[0]
        try:
            name = await self._names.get(user) if self._names is not None else user
            outcome = await self._app.escalations.resolve(key, staff_id=user, role_ids=roles, staff_name=name)
        except EscalationError as exc:
            await _say(ack, str(exc))
            return
        await _say(ack, outcome.message)

    async def on_shortcut(self, ack: AsyncAck, shortcut: dict[str, Any], body: dict[str, Any]) -> None:
        """The message shortcut "Escalate to a human": works inside threads, unlike slash commands."""
        await ack()
        message = shortcut.get("message") or {}
        channel, user = str((shortcut.get("channel") or {}).get("id", "")), str(shortcut["user"]["id"])
        if not channel or "ts" not in message:
            return
        thread_ts = message.get("thread_ts")
        is_dm = is_dm_channel(channel)
        key = thread_key(team_of(body), channel, message["ts"], thread_ts, is_dm)
        reason = clean_text(str(message.get("text", "")), None)[:REASON_CHARS] or "Escalate to a human"
        text = await self._escalate(key, user, reason, "shortcut")
        await self._ephemeral(channel, user, text, thread_ts or (None if is_dm else message["ts"]))

    async def on_human_button(self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        value = decode(str(action.get("value", "")))
        user = str(body["user"]["id"])
        channel, thread_ts = where_clicked(body)
        if value is None:
            return
        conv = await self._app.store.conversation_of_message(value.reply_id)
        if conv is None:
            text = "I can't find that conversation any more."
        else:
            trigger = "feedback" if value.kind == "feedback" else "button"
            text = await self._escalate(conv.key, user, "Talk to a human", trigger)
        await self._ephemeral(channel, user, text, thread_ts)

    async def on_feedback(self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        """👍/👎 from the feedback_buttons element or the classic buttons; 👎 offers a person."""
        await ack()
        value = decode(str(action.get("value", "")))
        if value is None or value.kind not in ("up", "down"):
            return
        user = str(body["user"]["id"])
        await self._app.store.record_feedback(value.reply_id, user, 1 if value.kind == "up" else -1)
        channel, thread_ts = where_clicked(body)
        if value.kind == "up":
            await self._ephemeral(channel, user, THANKS, thread_ts)
        else:
            blocks = offer_human_blocks(OFFER_AFTER_DOWNVOTE, value.reply_id)
            await self._ephemeral(channel, user, OFFER_AFTER_DOWNVOTE, thread_ts, blocks)

    async def _escalate(self, key: ThreadKey, user: str, reason: str, trigger: str) -> str:
        try:
            outcome = await self._app.escalations.escalate(key, user_id=user, reason=reason, trigger=trigger)
        except EscalationError as exc:
            return str(exc)
        return outcome.message

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
