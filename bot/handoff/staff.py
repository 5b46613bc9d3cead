"""Human handoff around the escalation state machine: posting staff cards, the DM relay, notes, ratings.

Each platform adapter registers itself as a `PlatformPort` (ports.py); the card goes to the staff
channel's platform and relayed messages to the user's, which may be the other one. Business hours
are in hours.py, the card's summary in summary.py, reminders in reminders.py.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from bot.conversation.locks import KeyedLocks
from bot.events import ThreadKey
from bot.handoff.escalation import Outcome
from bot.handoff.hours import escalation_notice, in_business_hours
from bot.handoff.ports import LearnedProposal, PlatformPort, StaffCard
from bot.handoff.reminders import Reminders
from bot.handoff.summary import summarise
from bot.llm.client import LLMClient
from bot.pii import Scrub, keep
from bot.settings import EscalationSettings
from bot.storage.store import ConversationStore, EscalationRecord, LearnedEntry

if TYPE_CHECKING:
    from bot.llm.tokens import TokenCounter


class Proposer(Protocol):
    """Drafts a help entry from a resolved escalation (bot/analytics/learning.py)."""

    async def propose(self, record: EscalationRecord) -> LearnedEntry | None: ...


log = logging.getLogger(__name__)


class Relay(StrEnum):
    """What became of a message under a handoff card."""

    RELAYED = "relayed"  # passed on to the user as "Name (support): …"
    NOT_RELAYED = "not_relayed"  # not a relay thread (the user's conversation is visible to staff)
    REFUSED = "refused"  # its writer isn't staff: nobody speaks to the user as staff but staff


def unreceived(escalation_id: int) -> str:
    """What the user is told when no staff channel can receive the handoff."""
    return (
        "Nobody on the team is set up to receive requests for a person here (no staff channel is"
        f" configured), so I can't promise a reply. Your request is recorded as escalation"
        f" {escalation_id}; an operator can take it with `supportbot escalations claim {escalation_id}`."
        " Until it is resolved I'll stay quiet."
    )


class Handoff:
    """Listens to escalation changes and carries them to staff and back to the user."""

    def __init__(
        self,
        store: ConversationStore,
        settings: EscalationSettings,
        llm: LLMClient | None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        *,
        counter: TokenCounter | None = None,
        learning: Proposer | None = None,
        stored_text: Scrub = keep,
    ) -> None:
        self._store = store
        self._counter = counter
        self._stored_text = stored_text  # privacy.redact = "all": what staff wrote is stored redacted
        self.learning = learning  # set by the composition root: proposes help entries on resolve
        self._settings = settings
        self._llm = llm
        self._now = now
        self._ports: dict[str, PlatformPort] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        # DM messages written while their escalation's card is still being prepared (summary, posting):
        # escalation id → lines, posted under the card once its thread exists.
        self._early: dict[int, list[str]] = {}
        self._relays = KeyedLocks()  # per conversation: card thread set-up vs. relaying, in order
        self.reminders = Reminders(store, settings.reminder_minutes, self.port, now)

    def register(self, port: PlatformPort) -> None:
        """Called by each adapter as it starts (the staff channel may be on either platform)."""
        self._ports[port.platform] = port

    def port(self, platform: str) -> PlatformPort | None:
        """The running adapter of `platform`, to post into its conversations."""
        return self._ports.get(platform)

    def _spawn(self, work: Coroutine[Any, Any, None], what: str) -> None:
        """Run `work` after the caller has answered (platforms want interactions acked in 3 s)."""

        async def guarded() -> None:
            try:
                await work
            except Exception:
                log.exception("handoff: %s failed", what)

        task = asyncio.create_task(guarded())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        """Wait for cards and notes still being posted."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=10)

    # -- escalation listener ------------------------------------------------------------------

    async def escalated(self, outcome: Outcome) -> str:
        """Post the staff card in the background; return what the user should be told now (with
        no staff channel to post to, plainly that nobody receives it: no promise of a reply)."""
        staff = self._settings.staff_channel
        configured = bool(staff.platform and staff.channel)
        # With no staff channel at all nobody is told, on any platform. One configured but not run
        # by this process is another instance's to post on, except from the console (`supportbot
        # chat`, often with no platform running). Operators take such escalations with
        # `supportbot escalations claim`.
        if not configured or (staff.platform not in self._ports and outcome.key.platform == "console"):
            log.warning(
                "escalation %s: no staff channel to notify (set escalation.staff_channel.platform"
                " and .channel, and run that platform's adapter)",
                outcome.record.id,
            )
            return unreceived(outcome.record.id)
        in_hours = in_business_hours(self._settings.hours, self._now())
        self._early[outcome.record.id] = []
        self._spawn(self._post_card(outcome, in_hours), f"card for escalation {outcome.record.id}")
        return escalation_notice(self._settings.hours, in_hours)

    async def claimed(self, outcome: Outcome, staff_name: str) -> None:
        async def tell() -> None:
            await self._note(outcome, f"Claimed by {staff_name}.")
            await self._to_user(outcome.key, f"{staff_name} from our team has joined the conversation.")

        self._spawn(tell(), f"claim notes for escalation {outcome.record.id}")

    async def resolved(self, outcome: Outcome, staff_name: str) -> None:
        async def tell() -> None:
            await self._note(outcome, f"Resolved by {staff_name}; the bot answers again.")
            await self._to_user(
                outcome.key,
                "This conversation is resolved and I'm back to help. How would you rate the help"
                " you got from our team? (optional)",
                rate_escalation=outcome.record.id,
            )
            await self._propose(outcome.record)

        self._spawn(tell(), f"resolve notes for escalation {outcome.record.id}")

    # -- relay ---------------------------------------------------------------------------------

    async def user_wrote(self, key: ThreadKey, conversation_id: int, user_name: str, text: str) -> None:
        """A message in an escalated conversation: copy it to the staff thread when it's a DM."""
        async with self._relays.hold(key):
            record = await self._store.current_escalation(conversation_id)
            if record is None:
                return
            line = f"{user_name}: {text}"
            if record.staff_thread is None:
                if record.id in self._early:
                    self._early[record.id].append(line)  # the card is still being prepared
                return
            port = self._ports.get(record.staff_platform or "")
            if record.relay and port is not None and record.staff_channel:
                await port.post_staff_note(record.staff_channel, record.staff_thread, line)

    async def staff_wrote(
        self,
        platform: str,
        channel: str,
        thread: str,
        staff_name: str,
        text: str,
        *,
        allowed: bool,
        staff_id: str = "",
    ) -> Relay:
        """A message in a staff thread: relayed to the user's DM when its writer is `allowed` (staff)."""
        found = await self._store.escalation_by_staff_thread(platform, channel, thread)
        if found is None or not found[0].relay:
            return Relay.NOT_RELAYED
        if not allowed:
            log.info("escalation %s: a message from someone who isn't staff was not relayed", found[0].id)
            return Relay.REFUSED
        await self._to_user(found[1], f"{staff_name} (support): {text}")
        await self.staff_spoke(found[0].conversation_id, staff_id, staff_name, text)
        return Relay.RELAYED

    async def staff_spoke(
        self, conversation_id: int, staff_id: str, staff_name: str, text: str, message_id: str | None = None
    ) -> None:
        """Keep what staff told the user in the transcript (Role.STAFF): the report, the learning
        loop and the bot's context after the handoff read it there."""
        text = self._stored_text(text)
        tokens = self._counter.count(text) if self._counter is not None else len(text) // 2 + 1
        await self._store.record_staff_message(
            conversation_id, staff_id, staff_name, text, tokens=tokens, platform_message_id=message_id
        )

    async def rate(self, escalation_id: int, score: int) -> str:
        if not 1 <= score <= 5:
            return "Ratings go from 1 to 5."
        if not await self._store.record_satisfaction(escalation_id, score):
            return "That conversation can't be rated (it isn't resolved)."
        return f"Thank you for rating us {score}/5."

    # -- internals -----------------------------------------------------------------------------

    async def _post_card(self, outcome: Outcome, in_hours: bool) -> None:
        try:
            await self._card(outcome, in_hours)
        finally:
            self._early.pop(outcome.record.id, None)

    async def _card(self, outcome: Outcome, in_hours: bool) -> None:
        staff = self._settings.staff_channel
        port = self._ports.get(staff.platform) if staff.platform else None
        if port is None or not staff.channel:
            log.warning(
                "escalation %s: no staff channel to notify (set escalation.staff_channel.platform"
                " and .channel, and run that platform's adapter)",
                outcome.record.id,
            )
            return
        user_port = self._ports.get(outcome.key.platform)
        relay = user_port.is_private(outcome.key) if user_port else False
        record = outcome.record
        summary, user_name = await summarise(
            self._store,
            self._llm,
            record.conversation_id,
            record.requested_by,
            self._settings.summary_messages,
        )
        card = StaffCard(
            escalation_id=outcome.record.id,
            key=outcome.key,
            user_name=user_name,
            reason=outcome.record.reason or "(no reason given)",
            trigger=outcome.record.trigger,
            summary=summary,
            link=await user_port.conversation_link(outcome.key) if user_port else None,
            in_hours=in_hours,
            relay=relay,
        )
        thread = await port.post_staff_card(staff.channel, card)
        async with self._relays.hold(outcome.key):
            await self._store.set_staff_thread(outcome.record.id, port.platform, staff.channel, thread, relay)
            early = self._early.pop(outcome.record.id, [])
            if relay:
                for line in early:
                    await port.post_staff_note(staff.channel, thread, line)

    async def _propose(self, resolved: EscalationRecord) -> None:
        """Offer staff a help entry made of their answer, under the card (the learning loop)."""
        if self.learning is None:
            return
        entry = await self.learning.propose(resolved)
        found = await self._store.escalation(resolved.id) if entry is not None else None
        if entry is None or found is None:
            return
        r = found[0]
        port = self._ports.get(r.staff_platform or "")
        if port is not None and r.staff_channel and r.staff_thread:
            proposal = LearnedProposal(entry.id, entry.question, entry.answer, entry.drafted_by)
            await port.post_learned_proposal(r.staff_channel, r.staff_thread, proposal)

    async def _note(self, outcome: Outcome, text: str) -> None:
        record = await self._store.escalation(outcome.record.id)
        if record is None:
            return
        r = record[0]
        port = self._ports.get(r.staff_platform or "")
        if port is not None and r.staff_channel and r.staff_thread:
            await port.post_staff_note(r.staff_channel, r.staff_thread, text)

    async def _to_user(self, key: ThreadKey, text: str, *, rate_escalation: int | None = None) -> None:
        port = self._ports.get(key.platform)
        if port is None:
            log.warning("handoff: no %s adapter running to reach %s", key.platform, key)
            return
        await port.send_to_user(key, text, rate_escalation=rate_escalation)
