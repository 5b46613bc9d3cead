"""The core's one API for adapters: answer a message, escalate, claim, resolve, feedback, rate, relay.

An adapter translates a platform payload into one call here and shows the text it gets back. Every
rule (which conversation a command means, who is staff, what a 👎 is answered with) and every
sentence a user or staff member reads lives on this side, once for all platforms.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator
from contextlib import AbstractAsyncContextManager, aclosing
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from bot.conversation.manager import ConversationManager, Named
from bot.conversation.manager import Received as Received  # adapters hold it between the two steps
from bot.conversation.outbox import Outbox
from bot.events import AnswerTimings, IncomingMessage, ReplyDone, ReplyEvent, ThreadKey
from bot.handoff.escalation import EscalationError, Escalations
from bot.handoff.ports import PlatformPort
from bot.handoff.staff import Handoff, Relay
from bot.handoff.states import Trigger
from bot.logs import handling
from bot.ops.metrics import Metrics
from bot.ops.observe import observed
from bot.pii import Redactor, Scrub, keep
from bot.repair import repair, repaired
from bot.settings import EscalationSettings, PrivacySettings
from bot.storage.store import ConversationStore, LearnedStatus, MessageStatus, Role
from bot.storage.store import Lead as Lead  # adapters hold it for their shards

if TYPE_CHECKING:
    from bot.analytics.learning import Learning

log = logging.getLogger(__name__)

THANKS = "Thanks for the feedback!"
SOLVED = "Glad that solved it! Thanks for letting us know."
LEARNED_SAVED = "Saved: the bot will answer this question from it (cited as answered by our team)."
LEARNED_DISCARDED = "Discarded."
LEARNED_DECIDED = "That entry was saved or discarded already."
NOT_STAFF_LEARNED = "Only support staff can save or discard help entries."
OFFER_AFTER_DOWNVOTE = "Sorry that didn't help. Would you like a person from our team to take over?"
NO_CONVERSATION = (
    "I don't have a conversation with you in this channel yet. Mention me with your question first,"
    " or escalate from the thread you mean."
)
SORRY = "Sorry, something went wrong there. Please try again in a moment."
NOT_HERE = "That button belongs to another conversation, so I ignored it."
NOT_ASKER = "Only the person I was answering can rate this."
NOT_PARTICIPANT = "Only someone taking part in this conversation can hand it to a person."
GONE = "I can't find that conversation any more. Use /escalate to reach a person."
NOT_STAFF_RESOLVE = "Only support staff can resolve escalations."
NOT_STAFF_RELAY = "Only support staff can write to the customer from here, so your message was not passed on."
HELP = (
    "I answer questions about our product from our documentation.\n"
    "• In a DM, just write. In a channel, mention me and I'll answer in a thread, where you can keep"
    " asking.\n"
    "• Press **Talk to a human** under an answer, or use `/escalate [reason]`, to reach a person"
    " from the team; I stay quiet while they help you.\n"
    "• 👍 / 👎 under an answer tell us whether it helped."
)


@dataclass(frozen=True, slots=True)
class Person:
    """Who acted, as the platform identifies them; `roles` are Discord role ids, or the Slack staff
    user group's id when the person is in it."""

    user_id: str
    name: str = ""
    roles: tuple[str, ...] = ()

    def repaired(self) -> Person:
        """The same person with a storable id and name (see bot/repair.py)."""
        return Person(repair(self.user_id), repair(self.name), self.roles)


@dataclass(frozen=True, slots=True)
class Place:
    """Where a command was typed: a channel, and the conversation thread when the platform says."""

    platform: str
    workspace: str
    channel: str
    thread: str | None = None  # a thread id (Discord threads); None where the platform sends none
    is_dm: bool = False

    def key(self) -> ThreadKey | None:
        """The conversation this place is, when it is one by itself (a thread or a DM)."""
        if self.thread is not None:
            return ThreadKey(self.platform, self.workspace, self.channel, self.thread)
        if self.is_dm:
            return ThreadKey(self.platform, self.workspace, self.channel, self.channel)
        return None


@dataclass(frozen=True, slots=True)
class Feedback:
    """What to tell someone who voted; `offer_human` asks the adapter to add the button for it."""

    text: str
    offer_human: bool


class SupportService:
    """The narrow API every adapter calls; built once by the composition root (bot/app.py)."""

    def __init__(
        self,
        *,
        store: ConversationStore,
        manager: ConversationManager,
        outbox: Outbox,
        escalations: Escalations,
        handoff: Handoff,
        settings: EscalationSettings,
        privacy: PrivacySettings | None = None,
        recover_minutes: int = 0,
        metrics: Metrics | None = None,
        learning: Learning | None = None,
    ) -> None:
        self._metrics = metrics if metrics is not None else Metrics()
        self._settings = settings
        self._recover_minutes = recover_minutes
        self._learning = learning
        stored_redacted = privacy is not None and privacy.applies_to("database")
        self._stored_text: Scrub = Redactor(privacy.phone_region) if stored_redacted and privacy else keep
        self._refused: set[tuple[str, str]] = set()  # (card thread, person) told they aren't staff
        self._store = store
        self._manager = manager
        self._outbox = outbox
        self._escalations = escalations
        self._handoff = handoff

    # -- platforms ------------------------------------------------------------------------------

    def register(self, port: PlatformPort) -> None:
        """A started adapter offers its side of the handoff (cards may go to the other platform)."""
        self._handoff.register(port)

    def port(self, platform: str) -> PlatformPort | None:
        return self._handoff.port(platform)

    async def close(self) -> None:
        """Wait for handoff work still under way (cards, notes): adapters call it before disconnecting."""
        await self._handoff.close()

    def exclusive(self, *names: str) -> AbstractAsyncContextManager[Lead]:
        """True inside while this process alone, of all on the database, holds every one of `names`
        (e.g. the Discord shards it connects), until it is `lost`; false when another live process
        holds any."""
        return self._store.leadership(*names)

    # -- messages --------------------------------------------------------------------------------

    async def receive(self, msg: IncomingMessage, *, named: Named | None = None) -> Received | None:
        """Store a message: await it BEFORE telling the platform it arrived (the ack), then `answer`.
        None: a duplicate delivery, nothing to answer. Text that can't be stored as it came (a lone
        surrogate) is repaired first, never dropped; personal data is redacted when so configured."""
        msg = repaired(msg)
        if self._stored_text is not keep:  # privacy.redact = "all": personal data is never stored
            msg = replace(msg, text=self._stored_text(msg.text))
        self._metrics.received.labels(msg.key.platform).inc()
        with handling(msg.key.platform, msg.message_id):
            if self._escalations.is_staff(msg.user_id, msg.roles or ()) and await self._staff_spoke(
                msg, named
            ):
                return None
            return await self._manager.receive(msg)

    async def _staff_spoke(self, msg: IncomingMessage, named: Named | None) -> bool:
        """Staff writing in a conversation they have (a channel thread they were linked to) speak to
        the user: kept in the transcript as staff (Role.STAFF), never answered (True). Elsewhere
        they are asked and answered like anyone (False). Their name is part of what is stored, so
        it is looked up (`named`) first: rare, and cached by the platform."""
        conv = await self._store.find_conversation(msg.key)
        if conv is None or await self._store.current_escalation(conv.id) is None:
            return False
        name = msg.user_name or (await named() if named is not None else "") or msg.user_id
        await self._handoff.staff_spoke(conv.id, msg.user_id, name, msg.text, msg.message_id)
        return True

    async def answer(
        self, received: Received, *, named: Named | None = None
    ) -> AsyncGenerator[ReplyEvent, None]:
        """The answer to a received message (see ConversationManager.answer); consume it with
        contextlib.aclosing(). `named`: the sender's name lookup, run once it is the thread's turn.
        Call `shown` as each message of the answer is posted, and `delivered` or `delivery_failed`
        at the end."""
        answering = self._manager.answer(received, named)
        async with aclosing(observed(self._metrics, received.msg, received.at, answering)) as events:
            async for event in events:
                if isinstance(event, ReplyDone) and event.reply_id is not None:
                    self._outbox.live(event.reply_id)
                yield event

    async def handle(self, msg: IncomingMessage) -> AsyncGenerator[ReplyEvent, None]:
        """`receive` and `answer` in one, for an adapter with no platform to acknowledge (the console)."""
        received = await self.receive(msg)
        if received is None:
            return
        async with aclosing(self.answer(received)) as events:
            async for event in events:
                yield event

    async def shown(self, received: Received, platform_ids: list[str]) -> None:
        """The platform messages showing the answer so far: recorded at once, so a restart edits
        them into the answer instead of posting a second one."""
        await self._outbox.shown(received.stored.id, platform_ids)

    async def delivered(
        self, reply_id: int, platform_message_id: str | None, timings: AnswerTimings | None = None
    ) -> None:
        """The platform accepted a reply; `timings` say how long it took to show (analytics)."""
        await self._outbox.delivered(reply_id, platform_message_id)
        if timings is not None:
            await self._store.record_answer_facts(reply_id, timings=timings)

    async def delivery_failed(self, reply_id: int, error: str) -> None:
        """The platform refused the reply: the outbox tries again with backoff, then gives up."""
        await self._outbox.failed(reply_id, error)

    async def to_backfill(self, platform: str, before: datetime | None = None) -> list[tuple[ThreadKey, str]]:
        """Where to read what arrived while the bot was away: `platform`'s conversations active in the
        last bot.recover_minutes, each with the platform id of its latest user message stored before
        `before` (the new session's start: a message answered live since then must not hide the ones
        written while away; read the messages after it, `receive` drops the ones already stored)."""
        if self._recover_minutes <= 0:
            return []
        since = datetime.now(UTC) - timedelta(minutes=self._recover_minutes)
        found = await self._store.recent_conversations(platform, since, before)
        return [(conv.key, latest) for conv, latest in found if latest is not None]

    async def read_back_due(self, platform: str, shard: int, began: datetime) -> datetime:
        """Where the read-back of a session begun at `began` starts: `began`, or the start of an
        earlier session whose read-back never stored what it found (its process stopped first),
        within the last bot.recover_minutes."""
        due = await self._store.read_back_due(platform, shard, began)
        return max(due, began - timedelta(minutes=self._recover_minutes))

    async def read_back_done(self, platform: str, shard: int, since: datetime) -> None:
        """The read-back due since `since` stored what it found."""
        await self._store.read_back_done(platform, shard, since)

    async def takes_part(self, key: ThreadKey) -> bool:
        """True for a conversation the bot is in: its un-mentioned follow-ups are answered."""
        return await self._store.find_conversation(key) is not None

    async def waiting_for_person(self, key: ThreadKey) -> bool:
        """True while a person has (or is about to take) the conversation: the bot stays silent."""
        conv = await self._store.find_conversation(key)
        return conv is not None and await self._store.current_escalation(conv.id) is not None

    async def undelivered_notes(self, key: ThreadKey, limit: int = 50) -> list[tuple[int, str]]:
        """(id, text) of notices for `key` no platform has shown yet, oldest first: what staff
        wrote from a terminal (`supportbot escalations reply`) to a console conversation. The
        caller shows them, then calls `delivered(id, None)`."""
        conv = await self._store.find_conversation(key)
        if conv is None:
            return []
        recent = await self._store.messages(conv.id, limit)
        return [(m.id, m.text) for m in recent if m.role is Role.NOTICE and m.status is MessageStatus.PENDING]

    # -- escalation -----------------------------------------------------------------------------

    async def escalate(self, key: ThreadKey, person: Person, reason: str, trigger: Trigger) -> str:
        """Hand `key` to staff; returns what to tell the person (also when it is refused)."""
        person, reason = person.repaired(), repair(reason)
        try:
            outcome = await self._escalations.escalate(
                key, user_id=person.user_id, reason=reason, trigger=trigger
            )
        except EscalationError as exc:
            return str(exc)
        return outcome.message

    async def escalate_command(self, place: Place, person: Person, reason: str) -> str:
        """`/escalate [reason]`: the thread or DM it was typed in, else the person's latest
        conversation in this channel (platforms send no thread with a slash command)."""
        key = place.key() if place.thread is not None else None
        latest = None
        if key is None:
            latest = await self._store.latest_conversation_of_user(
                place.platform, place.workspace, place.channel, person.user_id
            )
            key = latest.key if latest is not None else place.key()
        if key is None:
            return NO_CONVERSATION
        text = await self.escalate(key, person, reason.strip() or "asked with /escalate", Trigger.COMMAND)
        if latest is None or key.thread == key.channel:
            return f"{text} (Escalated: this DM.)" if place.is_dm else text
        port = self._handoff.port(key.platform)
        when = port.started_at(key) if port is not None else "earlier"
        return f"{text} (Escalated: our thread that started {when}.)"

    async def escalate_reply(
        self, reply_id: int, person: Person, trigger: Trigger, place: Place | None = None
    ) -> str:
        """The "Talk to a human" button under a reply (or the offer after a 👎), pressed at `place`.
        In a shared thread anyone who wrote in it may hand it over; nobody else."""
        conv = await self._store.conversation_of_message(reply_id)
        if conv is None:
            return GONE
        if not _clicked_in(conv.key, place):
            return NOT_HERE
        if not await self._store.took_part(conv.id, person.user_id):
            return NOT_PARTICIPANT
        reason = "the answer didn't help" if trigger is Trigger.FEEDBACK else "Talk to a human"
        return await self.escalate(conv.key, person, reason, trigger)

    async def staff_action(self, escalation_id: int, action: str, person: Person) -> str:
        """Claim or Resolve on a handoff card (`action` "claim" | "resolve"); staff only."""
        person = person.repaired()
        try:
            key = await self._escalations.key_of(escalation_id)
            act = self._escalations.claim if action == "claim" else self._escalations.resolve
            outcome = await act(key, staff_id=person.user_id, role_ids=person.roles, staff_name=person.name)
        except EscalationError as exc:
            return str(exc)
        return outcome.message

    async def resolve_command(self, place: Place, person: Person, link: ThreadKey | None = None) -> str:
        """`/resolve [link]` (staff): the linked conversation (a link under a card means the card's
        conversation), else the thread it was typed in (a card's thread means its conversation), else
        the one open escalation in this channel."""
        person = person.repaired()
        if not self._escalations.is_staff(person.user_id, person.roles):
            return NOT_STAFF_RESOLVE
        target = link or place.key()
        key = await self._card_conversation(target) if target is not None else None
        if key is None and target is not None and (link is not None or place.thread is not None):
            key = target
        if key is None:
            found = await self._open_here(place)
            if len(found) != 1:
                count = "no open escalation" if not found else f"{len(found)} open escalations"
                return (
                    f"There is {count} in this channel: use /resolve in the conversation's thread,"
                    " or `/resolve <link to a message in the thread>`."
                )
            key = found[0]
        try:
            outcome = await self._escalations.resolve(
                key, staff_id=person.user_id, role_ids=person.roles, staff_name=person.name
            )
        except EscalationError as exc:
            return str(exc)
        return outcome.message

    async def _card_conversation(self, key: ThreadKey) -> ThreadKey | None:
        """The conversation whose handoff card heads thread `key`, if it is a card's thread."""
        found = await self._store.escalation_by_staff_thread(key.platform, key.channel, key.thread)
        return found[1] if found is not None else None

    async def _open_here(self, place: Place) -> list[ThreadKey]:
        """Open escalations of conversations in this channel, or whose card is in this channel."""
        return [
            key
            for record, key in await self._store.open_escalations()
            if (key.platform == place.platform and key.channel == place.channel)
            or (record.staff_platform == place.platform and record.staff_channel == place.channel)
        ]

    # -- staff threads ----------------------------------------------------------------------------

    def in_staff_channel(self, platform: str, channel: str) -> bool:
        staff = self._settings.staff_channel
        return staff.platform == platform and staff.channel == channel

    async def is_card_thread(self, platform: str, thread: str, channel: str | None = None) -> bool:
        """True for the thread under an open escalation's card in the staff channel: staff talk there,
        never the bot. `channel` None: the platform can't tell the thread's parent (it is not cached)."""
        staff = self._settings.staff_channel
        if staff.platform != platform or channel not in (None, staff.channel):
            return False
        return await self._store.escalation_by_staff_thread(platform, staff.channel, thread) is not None

    async def staff_wrote(self, platform: str, thread: str, person: Person, text: str) -> str | None:
        """A message under a card in the staff channel: relayed to the user when their conversation
        is private and the writer is staff. Returns a private note for a writer who isn't (once per
        card and person), else None."""
        staff = self._settings.staff_channel
        if staff.platform != platform:
            return None
        person = person.repaired()
        allowed = self._escalations.is_staff(person.user_id, person.roles)
        name = person.name or person.user_id
        outcome = await self._handoff.staff_wrote(
            platform, staff.channel, thread, name, repair(text), allowed=allowed, staff_id=person.user_id
        )
        if outcome is not Relay.REFUSED or (thread, person.user_id) in self._refused:
            return None
        self._refused.add((thread, person.user_id))
        return NOT_STAFF_RELAY

    # -- feedback --------------------------------------------------------------------------------

    async def feedback(
        self, reply_id: int, person: Person, *, helpful: bool, place: Place | None = None
    ) -> Feedback:
        """👍/👎 on a reply, counted only from the person it answered and only where the reply is;
        a 👎 is answered with the offer of a person. A reply that isn't stored gets GONE."""
        found = await self._store.asker_of(reply_id)
        if found is None:
            return Feedback(GONE, False)
        conv, asker = found
        if not _clicked_in(conv.key, place):
            return Feedback(NOT_HERE, False)
        if person.user_id != asker:
            return Feedback(NOT_ASKER, False)
        await self._store.record_feedback(reply_id, person.user_id, 1 if helpful else -1)
        return Feedback(THANKS, False) if helpful else Feedback(OFFER_AFTER_DOWNVOTE, True)

    async def solved(self, reply_id: int, person: Person, place: Place | None = None) -> str:
        """ "That solved it" under an answer: a confirmed resolution, counted only from the person it
        answered and only where the answer is (as 👍/👎)."""
        found = await self._store.asker_of(reply_id)
        if found is None:
            return GONE
        conv, asker = found
        if not _clicked_in(conv.key, place):
            return NOT_HERE
        if person.user_id != asker:
            return NOT_ASKER
        await self._store.record_solved(reply_id, person.user_id)
        return SOLVED

    async def learned_draft(self, entry_id: int, person: Person) -> tuple[str | None, str]:
        """Edit under a proposed help entry (staff only): (its answer to edit, "") or (None, why not)."""
        person = person.repaired()
        if not self._escalations.is_staff(person.user_id, person.roles):
            return None, NOT_STAFF_LEARNED
        proposed = await self._store.learned_entries(LearnedStatus.PROPOSED)
        entry = next((e for e in proposed if e.id == entry_id), None)
        return (entry.answer, "") if entry is not None else (None, LEARNED_DECIDED)

    async def learned_action(
        self, entry_id: int, action: str, person: Person, *, answer: str | None = None
    ) -> str:
        """Save or Discard under a proposed help entry (`action` "save" | "discard"; a save may
        carry the answer as staff edited it); staff only."""
        person = person.repaired()
        if not self._escalations.is_staff(person.user_id, person.roles):
            return NOT_STAFF_LEARNED
        if self._learning is None:
            return GONE
        if action == "save":
            edited = repair(answer).strip() if answer is not None else None
            saved = await self._learning.approve(entry_id, person.user_id, answer=edited or None)
            return LEARNED_SAVED if saved is not None else LEARNED_DECIDED
        discarded = await self._learning.discard(entry_id, person.user_id)
        return LEARNED_DISCARDED if discarded is not None else LEARNED_DECIDED

    async def rate(self, escalation_id: int, score: int, person: Person, place: Place | None = None) -> str:
        """The user's 1–5 rating after a resolved escalation: only from someone who wrote in the
        conversation (or asked for the person), pressed in that conversation."""
        found = await self._store.escalation(escalation_id)
        if found is None:
            return GONE
        record, key = found
        if not _clicked_in(key, place):
            return NOT_HERE
        if person.user_id != record.requested_by and not await self._store.took_part(
            record.conversation_id, person.user_id
        ):
            return NOT_ASKER
        return await self._handoff.rate(escalation_id, score)

    @staticmethod
    def help_text() -> str:
        return HELP


def _clicked_in(key: ThreadKey, place: Place | None) -> bool:
    """True when a button about conversation `key` was pressed in it (None: the platform can't say)."""
    if place is None:
        return True
    same_channel = key.platform == place.platform and key.channel == place.channel
    return same_channel and (place.thread is None or place.thread == key.thread)
