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


def score(outcomes: Sequence[QuestionOutcome]) -> EvalReport:
    answerable = [o for o in outcomes if o.question.relevant]
    unanswerable = [o for o in outcomes if not o.question.relevant]
    r1 = r5 = rr = 0.0
    for o in answerable:
        if o.abstain:
            continue
        relevant = set(o.question.relevant)
        r1 += len(relevant & set(o.ranked[:1])) / len(relevant)
        r5 += len(relevant & set(o.ranked[:5])) / len(relevant)
        rank = next((i for i, s in enumerate(o.ranked, start=1) if s in relevant), None)
        rr += 1.0 / rank if rank else 0.0
    n = len(answerable) or 1
    return EvalReport(
        answerable=len(answerable),
        unanswerable=len(unanswerable),
        recall_at_1=r1 / n,
        recall_at_5=r5 / n,
        mrr=rr / n,
        abstain=sum(o.abstain for o in unanswerable) / (len(unanswerable) or 1),
        false_abstain=sum(o.abstain for o in answerable) / n,
        outcomes=tuple(outcomes),
    )


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
