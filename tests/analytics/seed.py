"""A seeded database for the report tests: six conversations over three days on three platforms,
written through the real store into a real SQLite file, then moved to their days (the store stamps
rows with the current time)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.events import AnswerTimings, IncomingMessage, ThreadKey, Usage
from bot.handoff.states import Trigger
from bot.kb import KBSettings, KnowledgeBase
from bot.storage.sqlite import SQLiteStore
from bot.storage.store import Grounding, LearnedStatus, MessageStatus, Role

DAY1 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
_ids = itertools.count(1)


@dataclass(frozen=True, slots=True)
class Seeded:
    learned_id: int  # an approved entry learned from the escalated "merge" conversation


async def _talk(
    store: SQLiteStore,
    key: ThreadKey,
    question: str,
    *,
    grounding: Grounding,
    cost: float,
    timings: AnswerTimings,
    status: MessageStatus = MessageStatus.ANSWERED,
) -> tuple[int, int]:
    """A question and its reply; (conversation id, reply id)."""
    msg = IncomingMessage(key, f"m{next(_ids)}", "U1", "Ada", question, False, datetime.now(UTC))
    stored = await store.record_inbound(msg, 5)
    assert stored is not None
    role = Role.ASSISTANT if status is MessageStatus.ANSWERED else Role.NOTICE
    usage = Usage("gpt-4o", 100, 20, cost)
    reply = await store.record_reply(stored, role, "answer", 5, usage, settles=status)
    await store.record_answer_facts(reply, grounding=grounding, timings=timings)
    await store.mark_delivered(reply, "p1")
    return stored.conversation_id, reply


async def _move(store: SQLiteStore, conversation_id: int, day: datetime) -> None:
    """Shift a conversation's rows so that it started at `day`, keeping their order and spacing."""
    db = store.db
    rows = list(
        await db.execute_fetchall("SELECT created_at FROM conversations WHERE id = ?", (conversation_id,))
    )
    delta = day - datetime.fromisoformat(rows[0][0])

    def moved(value: str | None) -> str | None:
        return (datetime.fromisoformat(value) + delta).isoformat(timespec="microseconds") if value else None

    for table, columns, where in (
        ("conversations", ("created_at", "updated_at"), "id"),
        ("messages", ("created_at", "updated_at"), "conversation_id"),
        ("escalations", ("requested_at", "claimed_at", "resolved_at"), "conversation_id"),
    ):
        found = await db.execute_fetchall(
            f"SELECT id, {', '.join(columns)} FROM {table} WHERE {where} = ?", (conversation_id,)
        )
        for row in found:
            sets = ", ".join(f"{c} = ?" for c in columns)
            await db.execute(
                f"UPDATE {table} SET {sets} WHERE id = ?", (*(moved(v) for v in row[1:]), row[0])
            )


def _key(platform: str, thread: str) -> ThreadKey:
    return {
        "slack": ThreadKey("slack", "T1", "C1", thread),
        "discord": ThreadKey("discord", "G1", "C2", thread),
        "console": ThreadKey("console", "", "console", thread),
    }[platform]


# thread, platform, question, grounding, cost, (sign, first token, complete), status
CONVERSATIONS = (
    ("a", "slack", "how do I export boards", Grounding.CITED, 0.002, (0.1, 1.0, 2.0), "answered"),
    ("b", "slack", "refund for an annual plan", Grounding.CITED_NONE, 0.003, (0.1, 2.0, 4.0), "answered"),
    ("c", "discord", "how do I merge two workspaces", Grounding.NOTHING_FOUND, 0.001, (0.2, 3.0, 5.0),
     "answered"),
    ("d", "slack", "export boards as csv", Grounding.CITED, 0.004, (0.1, 4.0, 6.0), "answered"),
    ("e", "discord", "merge workspaces please", Grounding.NOTHING_FOUND, 0.001, (0.3, 5.0, 9.0), "answered"),
    ("f", "console", "hello", Grounding.NO_MODEL, 0.0, (None, 0.5, 0.5), "failed"),
)  # fmt: skip
DAYS = {"a": 0, "b": 0, "c": 1, "d": 1, "e": 2, "f": 2}


async def seed(path: Path, pages: Path) -> Seeded:
    """a: 👍 (confirmed); b: 👎 (negative); c: escalated, staff answered, rated 5 (confirmed, with a
    person; its staff answer approved as a learned entry); d: answered, then silence (assumed);
    e: escalated, still open; f: an apology (abandoned). And a small help center."""
    store = SQLiteStore(path)
    await store.open()
    try:
        kb = KnowledgeBase(store.db, KBSettings(), write_lock=store.write_lock)
        await kb.setup()
        await kb.add(pages, name="help", url_template="https://help.example.com/{stem}")
        ids: dict[str, tuple[int, int]] = {}
        for thread, platform, question, grounding, cost, (sign, first, full), status in CONVERSATIONS:
            ids[thread] = await _talk(
                store, _key(platform, thread), question, grounding=grounding, cost=cost,
                timings=AnswerTimings(sign, first, full), status=MessageStatus(status),
            )  # fmt: skip
        await store.record_feedback(ids["a"][1], "U1", 1)
        await store.record_feedback(ids["b"][1], "U1", -1)
        c, e = ids["c"][0], ids["e"][0]
        record = await store.open_escalation(c, reason="", trigger=Trigger.BUTTON, requested_by="U1")
        assert record is not None
        answer = "Settings, Workspaces, Merge."
        await store.record_staff_message(c, "S1", "Sam", answer, tokens=6)
        await store.resolve_escalation(c, "S1")
        await store.record_satisfaction(record.id, 5)
        entry = await store.propose_learned(
            record.id, c, "How do I merge two workspaces?", answer, "exchange"
        )
        assert entry is not None
        await store.decide_learned(entry.id, LearnedStatus.APPROVED, "S1")
        assert (
            await store.open_escalation(e, reason="", trigger=Trigger.COMMAND, requested_by="U1") is not None
        )
        for n, (thread, (conv, _)) in enumerate(ids.items()):
            await _move(store, conv, DAY1 + timedelta(days=DAYS[thread], minutes=10 * n))
        return Seeded(entry.id)
    finally:
        await store.close()
