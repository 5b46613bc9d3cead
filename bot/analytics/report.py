"""The figures of `supportbot report`, computed from the judged conversations of a period: outcome
counts and rates, latency percentiles, cost, feedback, satisfaction, grounding rates, and per-day
series for the charts. Pure: no I/O."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from bot.analytics.gaps import Gap
from bot.analytics.outcomes import Judged, Outcome
from bot.storage.store import Grounding, LearnedEntry, Role


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0–100) with linear interpolation between ranks; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _round(value: float | None, digits: int = 3) -> float | None:
    return round(value, digits) if value is not None else None


@dataclass(frozen=True, slots=True)
class Group:
    """Figures of one platform or channel."""

    name: str
    conversations: int
    resolved: int
    escalated: int
    cost_usd: float


@dataclass
class Report:
    since: date
    until: date
    platform: str | None
    assume_resolved_hours: float
    outcomes: Counter[Outcome]
    conversations: int
    deflected: int
    reopened: int
    escalations: int
    answers: int
    grounding: Counter[Grounding]
    ttft: list[float]
    full: list[float]
    sign: list[float]
    cost_usd: float
    feedback_up: int
    feedback_down: int
    solved_clicks: int
    ratings: list[int]
    by_platform: list[Group]
    by_channel: list[Group]
    per_day: dict[date, Counter[Outcome]]
    cost_per_day: dict[date, float]
    coverage_gaps: list[Gap] = field(default_factory=list)
    learned: dict[int, LearnedEntry] = field(default_factory=dict)

    @property
    def resolved(self) -> int:
        return self.outcomes[Outcome.RESOLVED_CONFIRMED] + self.outcomes[Outcome.RESOLVED_ASSUMED]

    def rate(self, outcome: Outcome) -> float | None:
        return _rate(self.outcomes[outcome], self.conversations)

    @property
    def deflection_rate(self) -> float | None:
        return _rate(self.deflected, self.conversations)

    @property
    def csat(self) -> float | None:
        """Share of ratings that are 4 or 5."""
        return _rate(sum(1 for r in self.ratings if r >= 4), len(self.ratings))

    @property
    def abstain_rate(self) -> float | None:
        """Answers where the knowledge base had nothing relevant, of all answers."""
        return _rate(self.grounding[Grounding.NOTHING_FOUND], self.answers)

    @property
    def cited_none_rate(self) -> float | None:
        """Model answers that had passages and cited none, of the answers that had passages."""
        had = self.grounding[Grounding.CITED] + self.grounding[Grounding.CITED_NONE]
        return _rate(self.grounding[Grounding.CITED_NONE], had)

    def to_json(self) -> dict[str, object]:
        """The `--json` contract: these keys stay; new ones may be added."""
        o = self.outcomes
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "platform": self.platform,
            "assume_resolved_hours": self.assume_resolved_hours,
            "conversations": self.conversations,
            "resolved_confirmed": o[Outcome.RESOLVED_CONFIRMED],
            "resolved_assumed": o[Outcome.RESOLVED_ASSUMED],
            "escalated": o[Outcome.ESCALATED],
            "negative": o[Outcome.NEGATIVE],
            "abandoned": o[Outcome.ABANDONED],
            "pending": o[Outcome.PENDING],
            "reopened": self.reopened,
            "resolved_without_person": self.deflected,
            "deflection_rate": self.deflection_rate,
            "escalations": self.escalations,
            "answers": self.answers,
            "ttft_p50_s": _round(percentile(self.ttft, 50)),
            "ttft_p95_s": _round(percentile(self.ttft, 95)),
            "full_answer_p50_s": _round(percentile(self.full, 50)),
            "full_answer_p95_s": _round(percentile(self.full, 95)),
            "sign_p50_s": _round(percentile(self.sign, 50)),
            "sign_p95_s": _round(percentile(self.sign, 95)),
            "cost_usd": round(self.cost_usd, 6),
            "cost_per_conversation_usd": _round(
                self.cost_usd / self.conversations if self.conversations else None, 6
            ),
            "cost_per_resolution_usd": _round(self.cost_usd / self.resolved if self.resolved else None, 6),
            "feedback_up": self.feedback_up,
            "feedback_down": self.feedback_down,
            "solved_clicks": self.solved_clicks,
            "ratings": len(self.ratings),
            "csat": self.csat,
            "abstain_rate": self.abstain_rate,
            "cited_none_rate": self.cited_none_rate,
            "by_platform": [_group_json(g) for g in self.by_platform],
            "by_channel": [_group_json(g) for g in self.by_channel],
            "coverage_gaps": [g.to_json() for g in self.coverage_gaps],
        }


def _group_json(g: Group) -> dict[str, object]:
    return {
        "name": g.name,
        "conversations": g.conversations,
        "resolved": g.resolved,
        "escalated": g.escalated,
        "cost_usd": round(g.cost_usd, 6),
    }


def conversation_cost(j: Judged) -> float:
    return sum(t.cost_usd or 0.0 for t in j.activity.turns)


def _groups(judged: Sequence[Judged], name_of: dict[int, str]) -> list[Group]:
    buckets: dict[str, list[Judged]] = defaultdict(list)
    for j in judged:
        buckets[name_of[j.activity.conversation.id]].append(j)
    return [
        Group(
            name,
            len(items),
            sum(1 for j in items if j.resolved),
            sum(1 for j in items if j.escalated),
            sum(conversation_cost(j) for j in items),
        )
        for name, items in sorted(buckets.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    ]


def build_report(
    judged: Sequence[Judged],
    *,
    since: date,
    until: date,
    platform: str | None,
    assume_resolved_hours: float,
) -> Report:
    """Every figure of the report except the coverage gaps (which need the knowledge base)."""
    outcomes: Counter[Outcome] = Counter(j.outcome for j in judged)
    grounding: Counter[Grounding] = Counter()
    ttft: list[float] = []
    full: list[float] = []
    sign: list[float] = []
    up = down = solved = answers = 0
    cost = 0.0
    per_day: dict[date, Counter[Outcome]] = defaultdict(Counter)
    cost_per_day: dict[date, float] = defaultdict(float)
    for j in judged:
        per_day[j.activity.conversation.created_at.date()][j.outcome] += 1
        for t in j.activity.turns:
            if t.cost_usd:
                cost += t.cost_usd
                cost_per_day[t.created_at.date()] += t.cost_usd
            if t.role is Role.USER:
                continue
            if t.grounding is not None:
                answers += 1
                grounding[t.grounding] += 1
            up += t.feedback > 0
            down += t.feedback < 0
            solved += t.solved
            if t.timings is not None:
                for values, value in (
                    (ttft, t.timings.first_token_s),
                    (full, t.timings.complete_s),
                    (sign, t.timings.sign_s),
                ):
                    if value is not None:
                        values.append(value)
    ratings = [e.satisfaction for j in judged for e in j.activity.escalations if e.satisfaction is not None]
    platforms = {j.activity.conversation.id: j.activity.conversation.key.platform for j in judged}
    keys = {j.activity.conversation.id: j.activity.conversation.key for j in judged}
    channels = {conv: f"{key.platform}:{key.channel}" for conv, key in keys.items()}
    return Report(
        since=since,
        until=until,
        platform=platform,
        assume_resolved_hours=assume_resolved_hours,
        outcomes=outcomes,
        conversations=len(judged),
        deflected=sum(1 for j in judged if j.deflected),
        reopened=sum(1 for j in judged if j.reopened),
        escalations=sum(len(j.activity.escalations) for j in judged),
        answers=answers,
        grounding=grounding,
        ttft=ttft,
        full=full,
        sign=sign,
        cost_usd=cost,
        feedback_up=up,
        feedback_down=down,
        solved_clicks=solved,
        ratings=ratings,
        by_platform=_groups(judged, platforms),
        by_channel=_groups(judged, channels),
        per_day=dict(per_day),
        cost_per_day=dict(cost_per_day),
    )
