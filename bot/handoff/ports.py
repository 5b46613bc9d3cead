"""What the handoff needs from each platform (`PlatformPort`), and the card it asks them to post."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from bot.events import ReplyDone, ThreadKey
from bot.handoff.states import Trigger


@dataclass(frozen=True, slots=True)
class StaffCard:
    """What staff see when a conversation is handed over."""

    escalation_id: int
    key: ThreadKey  # the user's conversation
    user_name: str
    reason: str
    trigger: Trigger
    summary: str
    link: str | None  # Slack permalink / Discord jump URL of the conversation
    in_hours: bool
    relay: bool = False  # a DM: staff reply in the card's thread and messages are relayed both ways

    @property
    def title(self) -> str:
        return f"Escalation #{self.escalation_id}: {self.user_name} ({self.key.platform})"

    @property
    def hours(self) -> str:
        return "within business hours" if self.in_hours else "outside business hours"

    def how_to_reply(self, link: Callable[[str, str], str]) -> str:
        """Where staff answer; `link(label, url)` writes a link in the platform's markup."""
        if self.relay:
            return (
                "Private conversation: write in this card's thread to reply; the user's messages"
                " appear there."
            )
        if self.link:
            return f"{link('Open the conversation', self.link)} and reply there."
        return "No link to the conversation is available."


@dataclass(frozen=True, slots=True)
class Delivery:
    """What is known of an answer's earlier delivery, so delivering it again never posts it twice."""

    question_id: str  # the platform id of the message it answers (Discord: each part's nonce base)
    shown: tuple[str, ...] = ()  # platform ids of the messages already showing part of it, in order
    note: Callable[[list[str]], Awaitable[None]] | None = None  # record the ids as messages are posted
    # The platform ids of the conversation's other answers: never taken for a leftover of this one
    # (a message posted just before a crash, whose id was never noted).
    others: frozenset[str] = frozenset()
    # The platform id of the conversation's next user message: a message posted after it may be a
    # later answer whose id is not noted yet, so it is never taken for a leftover either.
    next_question: str | None = None


@dataclass(frozen=True, slots=True)
class LearnedProposal:
    """A help entry drafted from a staff answer, posted under its card with Save, Edit and Discard."""

    entry_id: int
    question: str
    answer: str
    drafted_by: str  # "model" | "exchange"

    @property
    def text(self) -> str:
        how = "drafted by the model from" if self.drafted_by == "model" else "taken from"
        return (
            f"Save this as a help entry? ({how} this conversation; the bot will answer and cite it)\n"
            f"Q: {self.question}\nA: {self.answer}\n"
            f"(or `supportbot kb learned approve {self.entry_id} [--answer TEXT]`)"
        )


class PlatformPort(Protocol):
    """What the handoff needs from a platform adapter."""

    platform: str

    def is_private(self, key: ThreadKey) -> bool:
        """True for DMs: staff can't see them, so messages are relayed through the staff thread."""
        ...

    async def conversation_link(self, key: ThreadKey) -> str | None: ...

    def started_at(self, key: ThreadKey) -> str:
        """The moment the conversation began, written so each reader sees it in their own time zone."""
        ...

    async def post_staff_card(self, channel: str, card: StaffCard) -> str:
        """Post the card (with Claim and Resolve buttons, staff mentioned); return its thread id."""
        ...

    async def post_staff_note(self, channel: str, thread: str, text: str) -> None: ...

    async def post_learned_proposal(self, channel: str, thread: str, proposal: LearnedProposal) -> None:
        """Post a proposed help entry under a card with Save and Discard buttons (staff only)."""
        ...

    async def send_to_user(self, key: ThreadKey, text: str, *, rate_escalation: int | None = None) -> None:
        """Post into the user's conversation; with `rate_escalation`, add 1–5 rating buttons."""
        ...

    async def send_answer(self, key: ThreadKey, done: ReplyDone, delivery: Delivery | None = None) -> str:
        """Post a bot answer (Markdown) that was not streamed, formatted and with the buttons a live
        answer gets; returns the message id a live answer would record. With `delivery`, the messages
        already shown are edited into the answer (surplus ones deleted) rather than posted again, and
        each new message's id is noted as soon as it is posted."""
        ...
