"""The conversation store protocol and its records, so backends (SQLite now, Postgres later) swap freely."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from bot.events import AnswerTimings, IncomingMessage, ThreadKey, Usage
from bot.handoff.states import ConversationState as ConversationState  # re-exported for callers
from bot.handoff.states import EscalationState, Trigger


class StoreOpenError(Exception):
    """The database can't be opened or created where the settings point; the message is one line
    that names the path, the cause and the setting to change."""


TOO_FAST = "rate_limited"  # the error of a message refused by limits.user_messages_per_minute


class MessageStatus(StrEnum):
    RECEIVED = "received"  # inbound, stored, not yet answered
    HANDED_OVER = "handed_over"  # inbound that arrived while a human has the conversation
    ANSWERED = "answered"  # inbound that got a reply
    FAILED = "failed"  # inbound that got an apology or a refusal instead of an answer
    PENDING = "pending"  # outbound, written but not yet accepted by the platform
    DELIVERED = "delivered"  # outbound, accepted by the platform


class Role(StrEnum):
    USER = "user"
    ASSISTANT = "assistant"
    NOTICE = "notice"  # a bot message that is not part of the dialogue (apologies, refusals)
    STAFF = "staff"  # a person from the support team, written while they had the conversation


class Grounding(StrEnum):
    """What an answer stood on (bot/analytics reports the rates)."""

    CITED = "cited"  # the model cited passages from the help center
    CITED_NONE = "cited_none"  # the model had passages but cited none of them
    NOTHING_FOUND = "nothing_found"  # the knowledge base had nothing relevant (or there is none)
    NO_MODEL = "no_model"  # no model answered: the best passages, or an apology with them


class LearnedStatus(StrEnum):
    PROPOSED = "proposed"  # drafted from a staff answer, waiting for staff
    APPROVED = "approved"  # saved: indexed as the knowledge-base source `learned`
    DISCARDED = "discarded"


@dataclass(frozen=True, slots=True)
class StoredMessage:
    id: int
    conversation_id: int
    role: Role
    text: str
    user_id: str
    user_name: str
    status: MessageStatus
    tokens: int
    created_at: datetime
    platform_message_id: str | None = None
    error: str | None = None
    # From record_inbound only: staff had the conversation when the message was stored.
    handed_over: bool = False
    # Inbound only: the platform ids of the messages showing its answer so far (see note_shown).
    shown_as: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A reply the outbox still has to deliver: the reply, the message it answers, where it goes."""

    reply: StoredMessage
    inbound: StoredMessage  # its `shown_as`: what is already on the platform of this answer
    key: ThreadKey
    attempts: int  # delivery attempts that failed so far


@dataclass(frozen=True, slots=True)
class Conversation:
    id: int
    key: ThreadKey
    state: ConversationState
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class EscalationRecord:
    id: int
    conversation_id: int
    state: EscalationState
    reason: str
    trigger: Trigger
    requested_by: str
    requested_at: datetime
    claimed_by: str | None = None
    claimed_at: datetime | None = None
    resolved_by: str | None = None
    resolved_at: datetime | None = None
    staff_platform: str | None = None  # where the handoff card went
    staff_channel: str | None = None
    staff_thread: str | None = None  # the card's thread: staff discussion and the DM relay
    relay: bool = False  # messages are relayed between the user's DM and the staff thread
    satisfaction: int | None = None  # the user's 1–5 rating after resolution


@dataclass(frozen=True, slots=True)
class ModelStats:
    model: str
    replies: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float


@dataclass(frozen=True, slots=True)
class Stats:
    conversations: int
    messages: int
    by_model: list[ModelStats]
    escalations: int = 0
    open_escalations: int = 0
    seconds_to_claim: list[float] = field(default_factory=list)  # one per claimed escalation
    seconds_to_resolve: list[float] = field(default_factory=list)  # one per resolved escalation


@dataclass(frozen=True, slots=True)
class Spent:
    """What the model's replies used over some time: their recorded cost and reported tokens."""

    cost_usd: float  # replies without a price count 0
    tokens: int  # prompt + completion tokens


@dataclass(frozen=True, slots=True)
class SpendLedger:
    """Today's spend as one cap sees it: what the model's replies used, and the worst cases held by
    the calls under way (on every instance sharing the store) with how many there are."""

    used: Spent
    held: Spent
    holds: int


@dataclass(frozen=True, slots=True)
class SpendHold:
    """A call about to be made, for `ConversationStore.hold_spend`."""

    user: tuple[str, str]  # (platform, user id)
    worst: Spent  # the most the call can cost: its prompt and the longest answer allowed
    since: datetime  # the start of the day the caps count
    lease: timedelta  # a hold left by a process that died stops counting after this long
    # Whether a cap counts per user (limits.user_daily_usd); without one the user's ledger is left
    # empty (`NO_SPEND`), and the store reads nothing about the user's own spend.
    per_user: bool = True


NO_SPEND = SpendLedger(Spent(0.0, 0), Spent(0.0, 0), 0)

# Given today's ledger for everyone and for the user, None if the hold fits, else the reason it doesn't.
SpendRoom = Callable[[SpendLedger, SpendLedger], str | None]


class Lead:
    """What `ConversationStore.leadership` gave: true while this process holds the jobs, and `lost`,
    set if the database lets go of them while they are held (their connection dropped), after
    which another instance may take them: stop running them."""

    def __init__(self, held: bool) -> None:
        self.held = held
        self.lost = asyncio.Event()

    def __bool__(self) -> bool:
        return self.held


@dataclass(frozen=True, slots=True)
class Removed:
    """What a deletion took away."""

    messages: int  # user messages and the bot's replies to them
    feedback: int  # 👍/👎 rows
    ratings: int  # escalation ratings (and reasons) cleared
    escalations: int
    conversations: int


@dataclass(frozen=True, slots=True)
class Turn:
    """One stored message as analytics reads it, with what was recorded about it."""

    id: int
    role: Role
    text: str
    user_id: str
    status: MessageStatus
    created_at: datetime
    reply_to: int | None = None  # the user message a bot reply answers
    cost_usd: float | None = None
    grounding: Grounding | None = None
    timings: AnswerTimings | None = None
    feedback: int = 0  # the sum of 👍 (+1) and 👎 (-1) on this reply
    solved: bool = False  # someone pressed "That solved it" under this reply


@dataclass(frozen=True, slots=True)
class Activity:
    """A conversation with everything that happened in it, for the outcome rules and the report."""

    conversation: Conversation
    turns: tuple[Turn, ...]  # oldest first
    escalations: tuple[EscalationRecord, ...]  # oldest first


@dataclass(frozen=True, slots=True)
class LearnedEntry:
    """A help entry drafted from a staff answer (the learning loop, bot/analytics/learning.py)."""

    id: int
    escalation_id: int
    conversation_id: int
    question: str
    answer: str
    drafted_by: str  # "model" | "exchange" (the raw question and staff answer)
    status: LearnedStatus
    created_at: datetime
    decided_at: datetime | None = None
    decided_by: str | None = None


class ConversationStore(Protocol):
    """Everything the core keeps: conversations, their messages, usage and delivery state."""

    # True when other processes may use the same store at once (Postgres): what one counted in
    # memory (today's spend) is stale, and what the sweep finds may appear at any time.
    shared: bool

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def record_inbound(self, msg: IncomingMessage, tokens: int) -> StoredMessage | None:
        """Store a user message; None if (platform, message_id) was seen before (a duplicate)."""
        ...

    async def history(self, conversation_id: int, before_id: int, limit: int) -> list[StoredMessage]:
        """Dialogue turns answering or preceding message `before_id`, newest first, at most `limit`:
        answered user messages, the bot's replies, and a handoff's part (user messages left to
        staff and staff messages, Role.STAFF), so after a resolve the bot knows what was said."""
        ...

    async def set_status(self, message_id: int, status: MessageStatus, error: str | None = None) -> None: ...

    async def sent_since(self, platform: str, user_id: str, since: datetime, before_id: int) -> int:
        """How many messages the user sent since `since`, stored before message `before_id`, not
        counting those refused as too fast (error TOO_FAST): the per-minute limit, counted in the
        database so every instance on it shares one count."""
        ...

    async def record_reply(
        self,
        inbound: StoredMessage,
        role: Role,
        text: str,
        tokens: int,
        usage: Usage | None,
        *,
        settles: MessageStatus,
        error: str | None = None,
    ) -> int:
        """Store the outbound message for `inbound` (pending until the platform accepts it) and
        give `inbound` its final status (`settles`, with `error`); returns the reply's id."""
        ...

    async def mark_delivered(self, message_id: int, platform_message_id: str | None) -> None: ...

    async def set_user_name(self, message_id: int, user_name: str) -> None:
        """Fill in the sender's name of a stored user message (stored first, the name looked up after)."""
        ...

    async def note_shown(self, inbound_id: int, platform_ids: Sequence[str]) -> None:
        """Record the platform messages that show the answer to user message `inbound_id` so far, in
        order, replacing what was recorded (read back as its `shown_as`; an empty list clears it).
        Written as soon as a message is posted, so a delivery after a crash edits them instead of
        posting a second answer. Ids are platform ids without whitespace."""
        ...

    async def undelivered(self, since: datetime, due: datetime) -> list[Outgoing]:
        """Replies (rows written by record_reply) still pending, i.e. neither mark_delivered nor set to
        FAILED, created at or after `since`, whose next attempt is due: never retried, or with the
        `retry_at` of the last retry_later at or before `due`. Oldest first, each with the user
        message it answers (with its `shown_as`) and its conversation's key."""
        ...

    async def retry_later(self, reply_id: int, error: str, retry_at: datetime) -> None:
        """One delivery attempt of a pending reply failed: add one to its Outgoing.attempts, store
        `error` as the reply's error, and leave it pending but not due before `retry_at`. No effect
        on a reply that is not pending."""
        ...

    async def find_conversation(self, key: ThreadKey) -> Conversation | None: ...

    async def messages(self, conversation_id: int, limit: int) -> list[StoredMessage]:
        """The latest `limit` messages of a conversation, oldest first (for display)."""
        ...

    async def stats(self) -> Stats: ...

    async def unanswered_between(
        self, since: datetime, before: datetime
    ) -> list[tuple[StoredMessage, ThreadKey]]:
        """User messages stored in [since, before) that never got a reply, oldest first."""
        ...

    async def cost_since(self, since: datetime) -> float:
        """USD recorded for replies created at or after `since`."""
        ...

    async def spent_since(self, since: datetime, user: tuple[str, str] | None = None) -> Spent:
        """Cost and tokens of replies created at or after `since`; with `user` (platform, user id),
        only of the replies to that user's messages."""
        ...

    async def hold_spend(self, hold: SpendHold, room: SpendRoom) -> int | str:
        """Reserve `hold.worst` if `room` says it fits: read today's ledgers (everyone's, the user's),
        ask `room`, and store the hold, as one step no other hold enters, across every process that
        shares the store. Returns the hold's id, or `room`'s reason with nothing held."""
        ...

    async def release_spend(self, hold_id: int, used: Spent) -> None:
        """The held call is over and its reply (using `used`) is recorded: the hold stops counting,
        and what the call used counts instead. An unknown or expired id is ignored."""
        ...

    async def ping(self) -> None:
        """One round trip to the database, cheap at any size; raises when it can't answer (/readyz)."""
        ...

    async def probe_write(self) -> None:
        """Prove a write can be made now (the write lock taken, a row written), leaving nothing behind;
        raises the backend's error otherwise (`supportbot check --live`)."""
        ...

    async def pending_replies(self) -> int:
        """Replies stored but not yet accepted by their platform (status pending): the outbox depth."""
        ...

    async def ensure_conversation(self, key: ThreadKey) -> Conversation: ...

    async def recent_conversations(
        self, platform: str, since: datetime, before: datetime | None = None
    ) -> list[tuple[Conversation, str | None]]:
        """Conversations of `platform` with a message stored at or after `since` (their `updated_at`),
        each with the platform id of its latest user message stored before `before` (any time when
        None; None if it has none)."""
        ...

    async def conversation_of_message(self, message_id: int) -> Conversation | None: ...

    async def latest_conversation_of_user(
        self, platform: str, workspace: str, channel: str, user_id: str
    ) -> Conversation | None:
        """The conversation in `channel` where this user wrote most recently."""
        ...

    async def open_escalation(
        self, conversation_id: int, *, reason: str, trigger: Trigger, requested_by: str
    ) -> EscalationRecord | None:
        """bot → waiting; None when the conversation is already escalated."""
        ...

    async def claim_escalation(self, conversation_id: int, staff_id: str) -> EscalationRecord | None:
        """waiting → human; None when there is no unclaimed escalation."""
        ...

    async def resolve_escalation(self, conversation_id: int, staff_id: str) -> EscalationRecord | None:
        """waiting/human → resolved, the conversation back to the bot; None when not escalated."""
        ...

    async def current_escalation(self, conversation_id: int) -> EscalationRecord | None: ...

    async def open_escalations(self) -> list[tuple[EscalationRecord, ThreadKey]]: ...

    async def escalation(self, escalation_id: int) -> tuple[EscalationRecord, ThreadKey] | None: ...

    async def escalation_by_staff_thread(
        self, platform: str, channel: str, thread: str
    ) -> tuple[EscalationRecord, ThreadKey] | None:
        """The open escalation whose handoff card heads this staff thread."""
        ...

    async def set_staff_thread(
        self, escalation_id: int, platform: str, channel: str, thread: str, relay: bool
    ) -> None: ...

    async def unclaimed_since(self, before: datetime) -> list[tuple[EscalationRecord, ThreadKey]]:
        """Escalations still waiting since `before` that have had no reminder."""
        ...

    async def mark_reminded(self, escalation_id: int) -> bool:
        """Note the escalation's one reminder; False when it already had it (another instance's)."""
        ...

    async def record_satisfaction(self, escalation_id: int, score: int) -> bool:
        """Store the user's 1–5 rating of a resolved escalation; False if it isn't resolved."""
        ...

    async def record_feedback(self, message_id: int, user_id: str, value: int) -> None:
        """Store (or change) one user's +1/-1 on a reply."""
        ...

    async def forget_user(self, platform: str, user_id: str) -> Removed:
        """Delete one person's messages (and the bot's replies to them), their feedback, and their
        ratings and reasons on escalations they asked for; conversations left empty go too."""
        ...

    async def purge_before(self, cutoff: datetime) -> Removed:
        """Delete conversations last active before `cutoff` (not ones with an open escalation),
        with their messages, feedback and escalations."""
        ...

    async def asker_of(self, reply_id: int) -> tuple[Conversation, str] | None:
        """The conversation of a bot reply and the user id of the message it answered; None if
        `reply_id` is not a stored reply."""
        ...

    async def took_part(self, conversation_id: int, user_id: str) -> bool:
        """True when `user_id` wrote in the conversation (a shared thread's participants)."""
        ...

    async def abandoned(self, since: datetime, before: datetime) -> list[tuple[StoredMessage, ThreadKey]]:
        """User messages stored in [since, before), never answered, that no running process will
        answer, oldest first (for the recovery sweep). SQLite has one process per file: all of them
        (the caller's `before` is its own start). Postgres: those whose instance no longer runs."""
        ...

    async def read_back_due(self, platform: str, shard: int, began: datetime) -> datetime:
        """Note that what arrived while `platform`'s `shard` was away is to be read back for a
        session begun at `began`; returns when the oldest read-back still to do began: `began`, or
        the start of an earlier session whose read-back never stored what it found."""
        ...

    async def read_back_done(self, platform: str, shard: int, since: datetime) -> None:
        """The read-back due since `since` (what `read_back_due` returned) stored what it found."""
        ...

    def hold_thread(self, key: ThreadKey) -> AbstractAsyncContextManager[None]:
        """Held while one message of `key`'s conversation is answered, across every process that
        shares the store, in the order the messages were stored (Postgres: an advisory lock); a
        no-op where one process has the store to itself (SQLite). The caller serialises its own."""
        ...

    def leadership(self, *jobs: str) -> AbstractAsyncContextManager[Lead]:
        """A true Lead inside when this process may run `jobs` (work one instance does at a time: the
        sweep, reminders, retention, a Discord shard) until the block ends or the Lead is `lost`;
        false, holding none of them, when another live process has any."""
        ...

    # -- analytics and the learning loop (bot/analytics/) ------------------------------------------

    async def record_staff_message(
        self,
        conversation_id: int,
        user_id: str,
        user_name: str,
        text: str,
        *,
        tokens: int,
        platform_message_id: str | None = None,
    ) -> int | None:
        """Store what a person from the team wrote to the user (Role.STAFF, delivered); returns its
        id, or None if (platform, platform_message_id) was stored before (a redelivery)."""
        ...

    async def record_answer_facts(
        self, reply_id: int, *, grounding: Grounding | None = None, timings: AnswerTimings | None = None
    ) -> None:
        """Note what a reply stood on and how long it took to show; a value left None keeps what
        was recorded before."""
        ...

    async def record_solved(self, reply_id: int, user_id: str) -> None:
        """ "That solved it" pressed under a reply (once per person; pressing again changes nothing)."""
        ...

    async def activity(self, since: datetime, until: datetime) -> list[Activity]:
        """Conversations started in [since, until), oldest first, with all their turns and escalations."""
        ...

    async def propose_learned(
        self, escalation_id: int, conversation_id: int, question: str, answer: str, drafted_by: str
    ) -> LearnedEntry | None:
        """Store a proposed help entry; None when this escalation already has one."""
        ...

    async def learned_entries(self, status: LearnedStatus | None = None) -> list[LearnedEntry]:
        """Help entries (all, or those in `status`), by id."""
        ...

    async def decide_learned(
        self, entry_id: int, status: LearnedStatus, by: str, *, answer: str | None = None
    ) -> LearnedEntry | None:
        """Approve or discard a proposed entry (with `answer`, its text replaced); None when there is
        no such entry or it was decided already."""
        ...
