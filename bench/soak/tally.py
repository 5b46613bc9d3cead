"""The figures: from what the platform shows at the end, which message got how many answers, where.

An answer names its message by the tag the fake LLM echoed. A final answer without a tag (the
apology with the offer of a person, after the model failed) is counted for the latest message of its
thread written before it appeared and still without an answer; with none left it is a duplicate.
Which message an apology answered (and so its latency) is inferred: an apology given to a message
already answered, in a thread where another got nothing, hides one duplicate and one loss. An
answer naming a message of another thread is in the wrong thread. Any other message of the bot
still visible is a fragment: a half-written answer nobody finished.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from bench.soak.plan import TAG, Message, Plan, tag_of
from bench.soak.record import Record, Visible

EXAMPLES = 5  # of each kind


@dataclass
class Figures:
    platform: str
    sent: int = 0  # deliveries to the bot: retries and duplicates included
    unique: int = 0  # distinct messages users wrote
    answered_once: int = 0
    duplicates: int = 0  # answers beyond the first to one message
    lost: int = 0  # messages with no answer
    unheard: int = 0  # of those, in DMs none of whose messages reached a connected bot (see _unheard)
    wrong_thread: int = 0
    fragments: int = 0
    fallbacks: int = 0  # answers without the echo (the model failed: apology + offer of a person)
    unsent: int = 0  # planned follow-ups never written (their thread was never started)
    latencies: list[float] = field(default_factory=list)  # first delivery → answer final, seconds
    notes: dict[str, object] = field(default_factory=dict)  # run facts: kills, faults, …
    examples: list[str] = field(default_factory=list)  # a few lost, fragments, slowest (for --explain)

    @property
    def clean(self) -> bool:
        return not (self.lost or self.duplicates or self.fragments or self.wrong_thread)

    def percentile(self, p: float) -> float | None:
        """Nearest rank."""
        if not self.latencies:
            return None
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def tally(platform: str, plan: Plan, record: Record, began: float) -> Figures:
    """The figures; `began` (time.time() at the start) makes the examples' times relative."""
    figures = Figures(platform)
    sent = [m for m in plan.messages if m.sent_at is not None]
    figures.unique = len(sent)
    figures.unsent = len(plan.messages) - len(sent)
    owners = {m.tag: m for m in sent}
    by_place: defaultdict[str, list[Message]] = defaultdict(list)
    for m in sent:
        by_place[m.thread.place].append(m)
    answers: defaultdict[int, list[float]] = defaultdict(list)  # message number → times answers went final
    for place, keys in record.by_place.items():
        shown = [record.messages[k] for k in keys]
        untagged = _attribute(figures, place, shown, owners, answers)
        _untagged(figures, sorted(by_place.get(place, []), key=_sent_at), untagged, answers)
    slowest: list[tuple[float, Message]] = []
    for m in sent:
        count = len(answers[m.number])
        figures.lost += count == 0
        figures.unheard += count == 0 and _unheard(m)
        figures.answered_once += count == 1
        figures.duplicates += max(0, count - 1)
        if count == 0 and len(figures.examples) < EXAMPLES:
            unheard = " (a DM no connected bot heard of)" if _unheard(m) else ""
            figures.examples.append(
                f"lost {m.tag} sent at {_sent_at(m) - began:.1f} s in {m.thread.place}{unheard}"
            )
        if count > 1:
            figures.examples.append(f"{count} answers to {m.tag} in {m.thread.place}")
        if count:
            figures.latencies.append(min(answers[m.number]) - _sent_at(m))
            slowest.append((figures.latencies[-1], m))
    for visible in [v for v in record.messages.values() if not v.final][:EXAMPLES]:
        figures.examples.append(
            f"fragment in {visible.place} from {visible.created_at - began:.1f} s: {visible.text[:60]!r}"
        )
    for latency, m in sorted(slowest, key=lambda pair: -pair[0])[:EXAMPLES]:
        figures.examples.append(
            f"slow {m.tag} sent at {_sent_at(m) - began:.1f} s answered in {latency:.1f} s"
        )
    return figures


def _unheard(m: Message) -> bool:
    """In a DM conversation of which no message reached a connected bot: Discord lists no DM
    channels to a bot, so it can't know of one until its writer writes while it is connected."""
    return m.thread.dm and all(x.unseen for x in m.thread.sent)


def _sent_at(m: Message) -> float:
    assert m.sent_at is not None
    return m.sent_at


def _attribute(
    figures: Figures,
    place: str,
    shown: list[Visible],
    owners: dict[str, Message],
    answers: defaultdict[int, list[float]],
) -> list[Visible]:
    """Count the tagged answers and the fragments of one place; return its untagged answers."""
    untagged: list[Visible] = []
    for visible in shown:
        if not visible.final:
            figures.fragments += 1
            continue
        tags = [tag_of(int(n)) for n in TAG.findall(visible.text)]
        owner = next((owners[t] for t in tags if t in owners), None)
        if owner is None:
            untagged.append(visible)
        elif owner.thread.place != place:
            figures.wrong_thread += 1
        else:
            assert visible.final_at is not None
            answers[owner.number].append(visible.final_at)
    return untagged


def _untagged(
    figures: Figures, asked: list[Message], untagged: list[Visible], answers: defaultdict[int, list[float]]
) -> None:
    """Each answer without a tag goes to the latest message still without one that was written
    before it appeared (the bot skips only messages it never got, and those stay lost); with none
    left, it is a second answer: a duplicate."""
    if not asked:
        figures.wrong_thread += len(untagged)  # the bot posted where nobody asked anything
        return
    figures.fallbacks += len(untagged)
    for visible in sorted(untagged, key=lambda v: v.created_at):
        assert visible.final_at is not None
        waiting = [m for m in asked if not answers[m.number]]
        before = [m for m in waiting if _sent_at(m) <= visible.created_at]
        owner = before[-1] if before else waiting[0] if waiting else asked[-1]
        answers[owner.number].append(visible.final_at)


def report(figures: Figures, *, explain: bool = False) -> str:
    p50, p99 = figures.percentile(50), figures.percentile(99)
    lines = [
        f"{figures.platform}: sent {figures.sent}  unique {figures.unique}  answered once"
        f" {figures.answered_once}  duplicates {figures.duplicates}  lost {figures.lost}"
        f"{f' ({figures.unheard} in DMs no connected bot heard of)' if figures.unheard else ''}"
        f"  wrong thread {figures.wrong_thread}  fragments left {figures.fragments}",
        f"  reply p50 {_s(p50)}  p99 {_s(p99)}  (first delivery → final answer visible)"
        f"  fallback answers {figures.fallbacks}  never sent {figures.unsent}",
    ]
    if figures.notes:
        lines.append("  " + "  ".join(f"{k} {v}" for k, v in figures.notes.items()))
    if explain:
        lines.extend("    " + example for example in figures.examples)
    return "\n".join(lines)


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} s"
