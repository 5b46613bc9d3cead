"""Coverage gaps: the questions the bot could not answer from the help center or handed to a person,
grouped by their words, each with the nearest help page and, once staff taught it, the learned entry."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from bot.analytics.outcomes import Judged, unanswered
from bot.conversation.grounding import LEARNED_SOURCE
from bot.kb import KnowledgeBase
from bot.kb.query import query_terms
from bot.storage.store import LearnedEntry, LearnedStatus, Role, Turn

SAME_QUESTION = 0.5  # Jaccard overlap of content words at which two questions are one gap


@dataclass(frozen=True, slots=True)
class Asked:
    """One question behind a gap: unanswered, or the one that led to an escalation."""

    text: str
    conversation_id: int
    escalated: bool  # it led to an escalation


@dataclass
class Gap:
    question: str  # the group's first question, as the user wrote it
    count: int
    terms: frozenset[str]
    conversation_ids: list[int] = field(default_factory=list)
    escalated: int = 0
    nearest_title: str | None = None
    nearest_url: str | None = None
    learned_id: int | None = None  # an approved learned entry that answers it now

    def to_json(self) -> dict[str, object]:
        return {
            "question": self.question,
            "count": self.count,
            "escalated": self.escalated,
            "nearest_page": {"title": self.nearest_title, "url": self.nearest_url}
            if self.nearest_title
            else None,
            "learned_entry": self.learned_id,
        }


def _reply_to(turns: Sequence[Turn], turn: Turn) -> Turn | None:
    return next((t for t in turns if t.reply_to == turn.id and t.role is not Role.USER), None)


def asked(judged: Sequence[Judged]) -> list[Asked]:
    """Every question the bot couldn't answer, and the question before each escalation."""
    found: list[Asked] = []
    for j in judged:
        turns = j.activity.turns
        conv = j.activity.conversation.id
        led = {_asked_before(turns, e.requested_at) for e in j.activity.escalations} - {None}
        for turn in turns:
            if turn.role is Role.USER and (turn.id in led or unanswered(turn, _reply_to(turns, turn))):
                found.append(Asked(turn.text, conv, turn.id in led))
    return found


def _asked_before(turns: Sequence[Turn], moment: datetime) -> int | None:
    """The id of the user's last message before `moment` (the question behind an escalation)."""
    before = [t for t in turns if t.role is Role.USER and t.created_at <= moment]
    return before[-1].id if before else None


def _overlap(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def group(questions: Sequence[Asked]) -> list[Gap]:
    """Questions sharing most of their content words form one gap; biggest first."""
    gaps: list[Gap] = []
    for q in questions:
        terms = frozenset(query_terms(q.text))
        home = next((g for g in gaps if _overlap(g.terms, terms) >= SAME_QUESTION), None)
        if home is None:
            home = Gap(" ".join(q.text.split())[:200], 0, terms)
            gaps.append(home)
        home.count += 1
        home.escalated += q.escalated
        home.conversation_ids.append(q.conversation_id)
    return sorted(gaps, key=lambda g: -g.count)


async def coverage_gaps(
    judged: Sequence[Judged],
    kb: KnowledgeBase | None,
    learned: Sequence[LearnedEntry],
    top: int = 10,
) -> list[Gap]:
    """The `top` gaps, each with its nearest help page (the KB's best page, even one too weak to
    answer from) and the approved learned entry that covers it since, if any."""
    gaps = group(asked(judged))[:top]
    approved = [e for e in learned if e.status is LearnedStatus.APPROVED]
    for gap in gaps:
        entry = next(
            (
                e
                for e in approved
                if e.conversation_id in gap.conversation_ids
                or _overlap(frozenset(query_terms(e.question)), gap.terms) >= SAME_QUESTION
            ),
            None,
        )
        gap.learned_id = entry.id if entry is not None else None
        if kb is None:
            continue
        result = await kb.search(gap.question, 3)
        page = next((h for h in result.hits if h.source_name != LEARNED_SOURCE), None)
        if page is not None:
            gap.nearest_title, gap.nearest_url = page.title, page.url or page.source
    return gaps
