"""The common types every adapter and the core speak: which conversation, what came in, what goes out.

The core never imports slack or discord; adapters translate platform payloads into these types
and translate the reply stream back into platform calls.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


@dataclass(frozen=True, slots=True)
class ThreadKey:
    """Which conversation: the unit of history, locking and escalation."""

    platform: str  # "slack" | "discord" | "console"
    workspace: str  # Slack team id / Discord guild id / "" for DMs and the console
    channel: str  # channel or DM channel id
    thread: str  # Slack thread_ts (or the root's ts), Discord thread or DM channel id, console name


@dataclass(frozen=True, slots=True)
class IncomingMessage:
    """One user message, already stripped of the bot mention, as the adapter received it."""

    key: ThreadKey
    message_id: str  # the platform's id; (platform, message_id) is unique, so duplicates are dropped
    user_id: str
    user_name: str
    text: str
    is_dm: bool
    received_at: datetime
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    # The writer's Discord roles (or the Slack staff group when they are in it), where the adapter
    # knows them; None: not looked up. Staff writing in a conversation they have are staff there.
    roles: tuple[str, ...] | None = None


class ReplyStatus(StrEnum):
    """How a reply came about, so adapters can decorate it (e.g. a "Talk to a human" button)."""

    ANSWERED = "answered"  # the model (or the knowledge base) answered
    FAILED = "failed"  # something went wrong; the text is an apology with an offer of a human
    REFUSED = "refused"  # the input was rejected (too long, empty); the text says why
    ESCALATED = "escalated"  # handed to a person; the text tells the user what happens next


@dataclass(frozen=True, slots=True)
class Usage:
    """Token usage and cost of one LLM call, as the API reported it."""

    model: str
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None  # None when the model has no price in settings


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of the answer as the model writes it; adapters stream or accumulate these."""

    text: str


@dataclass(frozen=True, slots=True)
class Accepted:
    """The message is new and the bot will reply (not a duplicate, not left to staff): the moment
    for an adapter to show that it is working ("typing…")."""


@dataclass(frozen=True, slots=True)
class ReplyDone:
    """The complete reply. Always the last event of a stream; `text` is what to show in full."""

    text: str
    status: ReplyStatus
    reply_id: int | None  # store id of the reply, for marking it delivered and for feedback
    usage: Usage | None = None


ReplyEvent = Accepted | TextDelta | ReplyDone


@dataclass(frozen=True, slots=True)
class AnswerTimings:
    """How long one answer took to show, in seconds from the moment the adapter received the
    message: the visible sign ("typing…", 👀), the first text on screen, the complete answer.
    None where a moment didn't happen (no sign on the console, an answer posted whole)."""

    sign_s: float | None = None
    first_token_s: float | None = None
    complete_s: float | None = None
