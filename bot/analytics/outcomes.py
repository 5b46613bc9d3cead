"""The outcome of each conversation, by rules that are pure functions over the stored records.

The rules, in this order (the first that holds decides; the README repeats them):
1. confirmed resolved: the user pressed 👍 or "That solved it" under an answer, or rated the help
   of our team 4 or 5;
2. escalated: the conversation was handed to a person (and not confirmed resolved);
3. negative: a 👎 and no escalation;
4. assumed resolved: the user's last message got an answer and the user wrote nothing more for
   `analytics.assume_resolved_hours`, with no 👎 and no escalation;
5. abandoned: the user's last message got no answer (a failure, a refusal, nothing, or "I couldn't
   find that": nothing found, or the model cited none of its passages) and the hours passed;
6. pending: too recent to say (the hours have not passed yet).
Reopened: the user came back after having been counted resolved (a message after an answer they
confirmed, after a resolved escalation they rated 4 or 5, or `assume_resolved_hours` — and at
least ten minutes — after an answer); reported beside the outcome, which it doesn't change.
Resolved without a person: resolved (1 or 4) with no escalation; the deflection rate is those ÷
all conversations.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from bot.storage.store import Activity, Grounding, MessageStatus, Role, Turn

GOOD_RATING = 4  # a rating of the team's help this high or higher confirms a resolution
# A follow-up within this long is the same visit, not a return, even with assume_resolved_hours 0.
MIN_QUIET = timedelta(minutes=10)


class Outcome(StrEnum):
    RESOLVED_CONFIRMED = "resolved_confirmed"
    RESOLVED_ASSUMED = "resolved_assumed"
    ESCALATED = "escalated"
    NEGATIVE = "negative"
    ABANDONED = "abandoned"
    PENDING = "pending"


RESOLVED = (Outcome.RESOLVED_CONFIRMED, Outcome.RESOLVED_ASSUMED)
BOT_REPLIES = (Role.ASSISTANT, Role.NOTICE)
UNANSWERED = (Grounding.NOTHING_FOUND, Grounding.CITED_NONE)


@dataclass(frozen=True, slots=True)
class Judged:
    """A conversation's outcome and what it was decided from."""

    activity: Activity
    outcome: Outcome
    escalated: bool  # a person was involved
    reopened: int  # times the user came back after being counted resolved

    @property
    def resolved(self) -> bool:
        return self.outcome in RESOLVED

    @property
    def deflected(self) -> bool:
        """Resolved without a person."""
        return self.resolved and not self.escalated


def _user_turns(activity: Activity) -> list[Turn]:
    return [t for t in activity.turns if t.role is Role.USER]


def confirmed(activity: Activity) -> bool:
    """👍 or "That solved it" under a bot reply, or a rating of 4–5."""
    replies = (t for t in activity.turns if t.role in BOT_REPLIES)
    if any(t.feedback > 0 or t.solved for t in replies):
        return True
    return any((e.satisfaction or 0) >= GOOD_RATING for e in activity.escalations)


def downvoted(activity: Activity) -> bool:
    return any(t.feedback < 0 for t in activity.turns if t.role in BOT_REPLIES)


def last_answered(activity: Activity) -> bool:
    """Whether the user's last message got an answer: answered, and not with "I couldn't find
    that" (nothing found, or the model cited none of the passages it had)."""
    users = _user_turns(activity)
    if not users or users[-1].status is not MessageStatus.ANSWERED:
        return False
    reply = next((t for t in activity.turns if t.reply_to == users[-1].id), None)
    return reply is None or reply.grounding not in UNANSWERED


def unanswered(turn: Turn, reply: Turn | None) -> bool:
    """A user message the bot could not answer from the help center (a coverage gap)."""
    if turn.status is MessageStatus.FAILED:
        return reply is not None and reply.grounding is not None  # an apology, not a refusal
    return reply is not None and reply.grounding in UNANSWERED


def last_activity(activity: Activity) -> datetime:
    """When anything was last written in the conversation."""
    if activity.turns:
        return activity.turns[-1].created_at
    return activity.conversation.created_at


def reopenings(activity: Activity, assume: timedelta) -> int:
    """User messages written after the conversation had been counted resolved."""
    count = 0
    resolved_at: datetime | None = None
    last_answer: datetime | None = None
    resolved_escalations = sorted(
        e.resolved_at
        for e in activity.escalations
        if e.resolved_at is not None and (e.satisfaction or 0) >= GOOD_RATING
    )
    for turn in activity.turns:
        for when in resolved_escalations:
            if when <= turn.created_at and (resolved_at is None or when > resolved_at):
                resolved_at = when
        if turn.role is Role.USER:
            gone_quiet = last_answer is not None and turn.created_at - last_answer >= max(assume, MIN_QUIET)
            if resolved_at is not None or gone_quiet:
                count += 1
            resolved_at, last_answer = None, None
        elif turn.role in BOT_REPLIES:
            last_answer = turn.created_at if turn.status is not MessageStatus.FAILED else last_answer
            if turn.feedback > 0 or turn.solved:
                resolved_at = turn.created_at
    return count


def judge(activity: Activity, now: datetime, assume_hours: float) -> Judged:
    """The outcome of one conversation as of `now` (see the module's rules)."""
    assume = timedelta(hours=assume_hours)
    escalated = bool(activity.escalations)
    reopened = reopenings(activity, assume)
    if confirmed(activity):
        outcome = Outcome.RESOLVED_CONFIRMED
    elif escalated:
        outcome = Outcome.ESCALATED
    elif downvoted(activity):
        outcome = Outcome.NEGATIVE
    elif now - last_activity(activity) < assume:
        outcome = Outcome.PENDING
    elif last_answered(activity):
        outcome = Outcome.RESOLVED_ASSUMED
    else:
        outcome = Outcome.ABANDONED
    return Judged(activity, outcome, escalated, reopened)


def judge_all(activities: Sequence[Activity], now: datetime, assume_hours: float) -> list[Judged]:
    return [judge(a, now, assume_hours) for a in activities]
