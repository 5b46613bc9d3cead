"""Building analytics records by hand for the pure rules: a conversation's turns and escalations at
chosen moments (the store writes them at the time they happen; these tests need other times)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from bot.events import AnswerTimings, ThreadKey
from bot.handoff.states import ConversationState, EscalationState, Trigger
from bot.storage.store import (
    Activity,
    Conversation,
    EscalationRecord,
    Grounding,
    MessageStatus,
    Role,
    Turn,
)

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
_ids = itertools.count(1)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def ask(text: str, minute: float, status: MessageStatus = MessageStatus.ANSWERED) -> Turn:
    return Turn(next(_ids), Role.USER, text, "U1", status, at(minute))


def reply(
    to: Turn,
    minute: float,
    *,
    grounding: Grounding | None = Grounding.CITED,
    feedback: int = 0,
    solved: bool = False,
    cost: float | None = None,
    ttft: float | None = None,
    role: Role = Role.ASSISTANT,
) -> Turn:
    timings = AnswerTimings(None, ttft, ttft + 1 if ttft is not None else None) if ttft is not None else None
    return Turn(
        next(_ids), role, "answer", "", MessageStatus.DELIVERED, at(minute), reply_to=to.id,
        cost_usd=cost, grounding=grounding, timings=timings, feedback=feedback, solved=solved,
    )  # fmt: skip


def escalation(
    minute: float, *, resolved: float | None = None, rating: int | None = None
) -> EscalationRecord:
    return EscalationRecord(
        id=next(_ids), conversation_id=0,
        state=EscalationState.RESOLVED if resolved is not None else EscalationState.WAITING,
        reason="", trigger=Trigger.BUTTON, requested_by="U1", requested_at=at(minute),
        resolved_by="S1" if resolved is not None else None,
        resolved_at=at(resolved) if resolved is not None else None, satisfaction=rating,
    )  # fmt: skip


def conversation(
    *turns: Turn,
    escalations: tuple[EscalationRecord, ...] = (),
    platform: str = "slack",
    channel: str = "C1",
    start: float = 0,
) -> Activity:
    conv = Conversation(
        next(_ids), ThreadKey(platform, "T1", channel, f"t{next(_ids)}"), ConversationState.BOT,
        at(start), at(start),
    )  # fmt: skip
    return Activity(conv, turns, escalations)
