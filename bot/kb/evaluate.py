"""Retrieval evaluation over a JSONL question set: recall@1/@5, MRR and abstention rates.

Each line is {"id", "question", "relevant": [paths relative to the added folder]}; an empty list
marks a question the knowledge base cannot answer, where the bot should abstain.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .knowledge_base import KnowledgeBase
from .types import SearchResult

# What a help center should reach (dev set, bench/README.md "Knowledge base"): (metric, at least?, value).
TARGETS: tuple[tuple[str, bool, float], ...] = (
    ("recall@5", True, 0.90),
    ("mrr", True, 0.75),
    ("abstain", True, 0.90),
    ("false_abstain", False, 0.10),
)

# Whether the bot, given what retrieval found, would still decline to answer (e.g. its model
# cites no passage). None = judge by retrieval alone.
Judge = Callable[["Question", SearchResult], Awaitable[bool]]


class EvalDataError(Exception):
    """The question file is missing or malformed; the message is one line."""


class JudgeError(Exception):
    """The judge (e.g. the language model) could not give a verdict; the message is one line."""


@dataclass(frozen=True, slots=True)
class Question:
    id: str
    question: str
    relevant: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class QuestionOutcome:
    question: Question
    abstain: bool
    ranked: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class EvalReport:
    """Recall is the share of a question's relevant pages found in the top k, averaged over
    answerable questions; an abstention on an answerable question scores 0 for recall and MRR."""

    answerable: int
    unanswerable: int
    recall_at_1: float
    recall_at_5: float
    mrr: float
    abstain: float  # share of unanswerable questions on which the bot abstained
    false_abstain: float  # share of answerable questions on which it abstained
    outcomes: tuple[QuestionOutcome, ...]
    ranking_recall_at_5: float = 0.0  # the ranking alone (every abstention ignored): what a model reads
    ranking_mrr: float = 0.0
    answered: int = 0  # questions not abstained on
    answered_right: int = 0  # ...of which the best page is a relevant one

    def figures(self) -> dict[str, float]:
        return {
            "recall@5": self.recall_at_5,
            "mrr": self.mrr,
            "abstain": self.abstain,
            "false_abstain": self.false_abstain,
        }

    def targets_line(self) -> str:
        """Each target beside its figure: `recall@5 0.6917 (target ≥ 0.90: missed)`."""
        parts = []
        for name, at_least, value in TARGETS:
            got = self.figures()[name]
            met = got >= value if at_least else got <= value
            sign, verdict = "≥" if at_least else "≤", "met" if met else "missed"
            parts.append(f"{name} {got:.4f} (target {sign} {value:.2f}: {verdict})")
        return "targets: " + ", ".join(parts)

    def ranking_line(self) -> str:
        right = self.answered_right / self.answered if self.answered else 0.0
        return (
            f"ranking alone (what a model reads): recall@5={self.ranking_recall_at_5:.4f}"
            f" mrr={self.ranking_mrr:.4f}; answered {self.answered} of {len(self.outcomes)},"
            f" best page right in {right:.0%}"
        )

    def line(self) -> str:
        return (
            f"recall@1={self.recall_at_1:.4f} recall@5={self.recall_at_5:.4f} mrr={self.mrr:.4f} "
            f"abstain={self.abstain:.4f} false_abstain={self.false_abstain:.4f} "
            f"answerable={self.answerable} unanswerable={self.unanswerable}"
        )


def parse_questions(text: str, origin: str = "<input>") -> list[Question]:
    questions: list[Question] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        where = f"{origin}:{number}"
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise EvalDataError(f"{where}: not valid JSON ({exc.msg})") from exc
        if not isinstance(data, dict):
            raise EvalDataError(f"{where}: expected a JSON object")
        question, relevant = data.get("question"), data.get("relevant")
        if not isinstance(question, str) or not question.strip():
            raise EvalDataError(f"{where}: 'question' must be a non-empty string")
        if not isinstance(relevant, list) or not all(isinstance(r, str) for r in relevant):
            raise EvalDataError(f"{where}: 'relevant' must be a list of paths")
        qid = data.get("id", str(number))
        questions.append(Question(str(qid), question, tuple(relevant)))
    if not questions:
        raise EvalDataError(f"{origin}: no questions")
    return questions


def load_questions(path: Path) -> list[Question]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise EvalDataError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise EvalDataError(f"cannot read {path}: not UTF-8 text") from exc
    return parse_questions(text, str(path))


def _ranking(o: QuestionOutcome) -> tuple[float, float, float]:
    """recall@1, recall@5 and reciprocal rank of one answerable question's ranking."""
    relevant = set(o.question.relevant)
    rank = next((i for i, s in enumerate(o.ranked, start=1) if s in relevant), None)
    return (
        len(relevant & set(o.ranked[:1])) / len(relevant),
        len(relevant & set(o.ranked[:5])) / len(relevant),
        1.0 / rank if rank else 0.0,
    )


def score(outcomes: Sequence[QuestionOutcome]) -> EvalReport:
    answerable = [o for o in outcomes if o.question.relevant]
    unanswerable = [o for o in outcomes if not o.question.relevant]
    r1 = r5 = rr = rank_r5 = rank_rr = 0.0
    for o in answerable:
        one, five, reciprocal = _ranking(o)
        rank_r5, rank_rr = rank_r5 + five, rank_rr + reciprocal
        if not o.abstain:
            r1, r5, rr = r1 + one, r5 + five, rr + reciprocal
    n = len(answerable) or 1
    answered = [o for o in outcomes if not o.abstain]
    right = sum(
        1 for o in answered if o.question.relevant and o.ranked[:1] and o.ranked[0] in o.question.relevant
    )
    return EvalReport(
        answerable=len(answerable),
        unanswerable=len(unanswerable),
        recall_at_1=r1 / n,
        recall_at_5=r5 / n,
        mrr=rr / n,
        abstain=sum(o.abstain for o in unanswerable) / (len(unanswerable) or 1),
        false_abstain=sum(o.abstain for o in answerable) / n,
        outcomes=tuple(outcomes),
        ranking_recall_at_5=rank_r5 / n,
        ranking_mrr=rank_rr / n,
        answered=len(answered),
        answered_right=right,
    )


def misses(report: EvalReport, k: int = 5) -> list[str]:
    """One line per question the bot gets wrong: its relevant page ranked below `k` or not at all,
    an abstention on an answerable question, an answer to one it should abstain on."""
    lines = []
    for o in report.outcomes:
        want = ", ".join(o.question.relevant) or "(abstain)"
        got = ", ".join(o.ranked[:k]) or "(nothing)"
        relevant = set(o.question.relevant)
        if not relevant and not o.abstain:
            why = "answered, should abstain"
        elif relevant and not relevant & set(o.ranked[:k]):
            why = f"not in the top {k}" + (", abstained" if o.abstain else "")
        elif relevant and o.abstain:
            why = "abstained, though ranked"
        else:
            continue
        lines.append(f"miss {o.question.id} ({why}): {o.question.question!r} want {want}; got {got}")
    return lines


async def evaluate(
    kb: KnowledgeBase, questions: Sequence[Question], k: int = 5, judge: Judge | None = None
) -> EvalReport:
    """Search each question; it counts as abstained when retrieval abstains or `judge` says the bot
    would decline with what was found."""
    outcomes = []
    for q in questions:
        result = await kb.search(q.question, k=max(k, 5))
        ranked = tuple(h.source for h in result.hits)
        abstain = result.abstain or (judge is not None and await judge(q, result))
        outcomes.append(QuestionOutcome(q, abstain, ranked))
    return score(outcomes)
