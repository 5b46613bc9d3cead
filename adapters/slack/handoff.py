"""Slack's side of the human handoff: the core's PlatformPort, the card's buttons, and staff replies.

The card goes to the staff channel with Claim/Resolve; its ts is the staff thread. Staff replies in that
thread reach `Handoff.staff_wrote` (relayed when the user is in a DM); the bot never answers there.
"""

from __future__ import annotations

import contextlib
import logging
import re
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.api import describe
from adapters.slack.blocks import reply_actions
from adapters.slack.cards import (
    CLAIM_ACTION,
    RATE_ACTION,
    RESOLVE_ACTION,
    card_message,
    decode_rating,
    rating_blocks,
)
from adapters.slack.entry import clicked_place, when, where_clicked
from adapters.slack.learned import ACTIONS as LEARNED_ACTIONS
from adapters.slack.learned import EDIT_VIEW, LEARNED_EDIT_ACTION, edit_view, proposal_blocks, submitted
from adapters.slack.leftovers import leftovers
from adapters.slack.mrkdwn import escape
from adapters.slack.names import NameCache
from adapters.slack.payloads import PLATFORM, is_dm_channel
from adapters.slack.staff import StaffGroup
from adapters.slack.stream import EditSurface, Target
from bot.events import ReplyDone, ThreadKey
from bot.handoff.ports import Delivery, LearnedProposal, StaffCard
from bot.ids import parse_id
from bot.reply.stream import ReplyStream
from bot.service import Person, SupportService
from bot.settings import LoadedConfig

log = logging.getLogger(__name__)


class SlackHandoff:
    """Posts cards, notes and relayed messages in Slack; turns staff presses and replies into core calls."""

    platform = PLATFORM

    def __init__(
        self,
        *,
        service: SupportService,
        config: LoadedConfig,
        client: AsyncWebClient,
        names: NameCache,
        staff: StaffGroup,
        bot_user: str | None = None,
    ) -> None:
        self._service = service
        self._bot_user = bot_user  # the bot's own user id: its messages in a conversation
        self._client = client
        self._names = names
        self._staff = staff
        self._settings = config.settings.escalation
        self._slack = config.settings.slack

    def register(self, bolt: AsyncApp) -> None:
        bolt.action(CLAIM_ACTION)(self.on_staff_button)
        bolt.action(RESOLVE_ACTION)(self.on_staff_button)
        bolt.action(re.compile(f"^{RATE_ACTION}_[1-5]$"))(self.on_rate)
        for action_id in LEARNED_ACTIONS:
            bolt.action(action_id)(self.on_learned_button)
        bolt.action(LEARNED_EDIT_ACTION)(self.on_learned_edit)
        bolt.view(EDIT_VIEW)(self.on_learned_edited)

    # -- PlatformPort ------------------------------------------------------------------------------

    def is_private(self, key: ThreadKey) -> bool:
        return is_dm_channel(key.channel)

    async def conversation_link(self, key: ThreadKey) -> str | None:
        if key.thread == key.channel:  # the top level of a DM has no message to link to
            return None
        try:
            resp = await self._client.chat_getPermalink(channel=key.channel, message_ts=key.thread)
        except SlackApiError as exc:
            log.warning("%s", describe("chat.getPermalink", exc))
            return None
        link = resp.get("permalink")
        return str(link) if link else None

    def started_at(self, key: ThreadKey) -> str:
        return when(key.thread)

    async def post_staff_card(self, channel: str, card: StaffCard) -> str:
        text, blocks = card_message(card, self._settings.staff_group_id)
        try:
            resp = await self._client.chat_postMessage(channel=channel, text=text, blocks=blocks)
        except SlackApiError as exc:
            log.error("%s (staff channel %s)", describe("chat.postMessage", exc), channel)
            raise
        return str(resp["ts"])

    async def post_staff_note(self, channel: str, thread: str, text: str) -> None:
        await self._client.chat_postMessage(channel=channel, thread_ts=thread, text=escape(text))

    async def post_learned_proposal(self, channel: str, thread: str, proposal: LearnedProposal) -> None:
        await self._client.chat_postMessage(
            channel=channel, thread_ts=thread, text=escape(proposal.text), blocks=proposal_blocks(proposal)
        )

    async def send_answer(self, key: ThreadKey, done: ReplyDone, delivery: Delivery | None = None) -> str:
        s = self._slack
        thread = None if key.thread == key.channel else key.thread  # None: the top level of a DM
        surface = EditSurface(
            self._client,
            Target(key.channel, thread, key.workspace, ""),
            s.max_interim_chars,
            0.0,
            actions=reply_actions(done, native_feedback=False) or [],
        )
        shown = list(delivery.shown) if delivery is not None else []
        if delivery is not None:  # a redelivery: what a crash posted without noting is part of it
            left = await leftovers(self._client, self._bot_user, key.channel, thread, delivery)
            if left:
                log.info("Slack: %d message(s) of an interrupted answer found in %s", len(left), key.channel)
            shown = sorted({*shown, *left}, key=float)
            for ts in dict.fromkeys([*left, *shown[-1:]]):  # a chat stream the stop left open is closed first
                with contextlib.suppress(SlackApiError):  # not a stream, or one already stopped
                    await self._client.chat_stopStream(channel=key.channel, ts=ts)
        note = delivery.note if delivery is not None else None
        posted = await ReplyStream(surface, shown=shown, on_posted=note).finish(done.text)
        return posted[0]

    async def send_to_user(self, key: ThreadKey, text: str, *, rate_escalation: int | None = None) -> None:
        args: dict[str, Any] = {"channel": key.channel, "text": escape(text)}
        if key.thread != key.channel:
            args["thread_ts"] = key.thread
        if rate_escalation is not None:
            args["blocks"] = rating_blocks(text, rate_escalation)
        await self._client.chat_postMessage(**args)

    # -- staff threads and Bolt listeners ----------------------------------------------------------

    async def staff_wrote(self, thread_ts: str, user: str, text: str) -> None:
        """A reply under a card in the staff channel: relayed to the user when theirs is a DM."""
        person = Person(user, await self._names.get(user), await self._staff.roles_of(user))
        note = await self._service.staff_wrote(PLATFORM, thread_ts, person, text)
        if note is not None:
            await self._ephemeral(self._settings.staff_channel.channel, user, note, thread_ts)

    async def on_staff_button(self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        """Claim or Resolve on a card: staff only (the core checks); the presser is answered ephemerally."""
        await ack()
        user = str(body["user"]["id"])
        escalation_id = parse_id(str(action.get("value", "")))
        if escalation_id is None:
            return
        person = Person(user, await self._names.get(user), await self._staff.roles_of(user))
        verb = "claim" if action.get("action_id") == CLAIM_ACTION else "resolve"
        text = await self._service.staff_action(escalation_id, verb, person)
        channel, thread_ts = where_clicked(body)
        await self._ephemeral(channel, user, text, thread_ts)

    async def on_learned_button(self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        """Save or Discard under a proposed help entry: staff only (the core checks)."""
        await ack()
        user = str(body["user"]["id"])
        entry_id = parse_id(str(action.get("value", "")))
        verb = LEARNED_ACTIONS.get(str(action.get("action_id", "")))
        if entry_id is None or verb is None:
            return
        person = Person(user, await self._names.get(user), await self._staff.roles_of(user))
        text = await self._service.learned_action(entry_id, verb, person)
        channel, thread_ts = where_clicked(body)
        await self._ephemeral(channel, user, text, thread_ts)

    async def on_learned_edit(self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        """Edit under a proposed help entry: a modal with its answer (staff only; others are told)."""
        await ack()
        user = str(body["user"]["id"])
        entry_id = parse_id(str(action.get("value", "")))
        trigger = body.get("trigger_id")
        if entry_id is None or not isinstance(trigger, str):
            return
        person = Person(user, await self._names.get(user), await self._staff.roles_of(user))
        draft, why = await self._service.learned_draft(entry_id, person)
        channel, thread_ts = where_clicked(body)
        if draft is None:
            await self._ephemeral(channel, user, why, thread_ts)
            return
        try:
            await self._client.views_open(
                trigger_id=trigger, view=edit_view(entry_id, draft, channel, thread_ts)
            )
        except SlackApiError as exc:
            log.error("%s", describe("views.open", exc))

    async def on_learned_edited(self, ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        """The edit modal submitted: save the entry with the answer as staff wrote it."""
        await ack()
        found = submitted(view)
        if found is None:
            return
        entry_id, answer, channel, thread_ts = found
        user = str(body["user"]["id"])
        person = Person(user, await self._names.get(user), await self._staff.roles_of(user))
        text = await self._service.learned_action(entry_id, "save", person, answer=answer)
        if channel:
            await self._ephemeral(channel, user, text, thread_ts)

    async def on_rate(self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        rating = decode_rating(str(action.get("value", "")))
        if rating is None:
            return
        escalation_id, score = rating
        person = Person(str(body["user"]["id"]))
        text = await self._service.rate(escalation_id, score, person, clicked_place(body))
        channel, thread_ts = where_clicked(body)
        await self._ephemeral(channel, str(body["user"]["id"]), text, thread_ts)

    async def _ephemeral(self, channel: str, user: str, text: str, thread_ts: str | None) -> None:
        args: dict[str, Any] = {"channel": channel, "user": user, "text": text}
        if thread_ts:
            args["thread_ts"] = thread_ts
        try:
            await self._client.chat_postEphemeral(**args)
        except SlackApiError as exc:
            log.error("%s", describe("chat.postEphemeral", exc))
