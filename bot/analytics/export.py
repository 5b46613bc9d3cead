"""`supportbot report --csv`: one row per conversation, with its outcome and what it was decided from."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from bot.analytics.outcomes import BOT_REPLIES, Judged
from bot.analytics.report import conversation_cost
from bot.storage.store import Grounding, Role

COLUMNS = (
    "conversation_id", "platform", "workspace", "channel", "thread", "started_at", "outcome",
    "escalated", "reopened", "user_messages", "answers", "cited", "cited_none", "nothing_found",
    "no_model", "feedback_up", "feedback_down", "solved", "rating", "cost_usd", "first_ttft_s",
    "first_full_answer_s",
)  # fmt: skip


def _row(j: Judged) -> list[object]:
    a = j.activity
    replies = [t for t in a.turns if t.role in BOT_REPLIES]
    grounded = [t.grounding for t in replies if t.grounding is not None]
    timed = next((t.timings for t in replies if t.timings is not None), None)
    ratings = [e.satisfaction for e in a.escalations if e.satisfaction is not None]
    key = a.conversation.key
    return [
        a.conversation.id, key.platform, key.workspace, key.channel, key.thread,
        a.conversation.created_at.isoformat(), j.outcome.value, int(j.escalated), j.reopened,
        sum(1 for t in a.turns if t.role is Role.USER), len(grounded),
        *(grounded.count(g) for g in (Grounding.CITED, Grounding.CITED_NONE, Grounding.NOTHING_FOUND,
                                      Grounding.NO_MODEL)),
        sum(1 for t in replies if t.feedback > 0), sum(1 for t in replies if t.feedback < 0),
        int(any(t.solved for t in replies)), ratings[-1] if ratings else "",
        f"{conversation_cost(j):.6f}",
        "" if timed is None or timed.first_token_s is None else f"{timed.first_token_s:.3f}",
        "" if timed is None or timed.complete_s is None else f"{timed.complete_s:.3f}",
    ]  # fmt: skip


def to_csv(judged: Sequence[Judged]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for j in judged:
        writer.writerow(_row(j))
    return out.getvalue()
