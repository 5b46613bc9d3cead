"""`supportbot report` on a big database: how long reading, judging and rendering N conversations
takes, and the process's peak memory. Seeds a temp SQLite file through the real store (one question,
one answer with its facts, some 👍/👎 and escalations), then times each step of the report.

    .venv/bin/python -m bench.bench_report [--conversations 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.analytics.export import to_csv
from bot.analytics.gaps import coverage_gaps
from bot.analytics.outcomes import judge_all
from bot.analytics.page import render_page
from bot.analytics.report import build_report
from bot.events import AnswerTimings, IncomingMessage, ThreadKey, Usage
from bot.handoff.states import Trigger
from bot.kb import KBSettings, KnowledgeBase
from bot.settings import packaged_config_dir
from bot.storage.sqlite import SQLiteStore
from bot.storage.store import Grounding, MessageStatus, Role

QUESTIONS = (
    "how do I reset my password",
    "export my boards",
    "merge two workspaces",
    "refund an annual plan",
)


async def seed(store: SQLiteStore, count: int, rng: random.Random) -> None:
    groundings = list(Grounding)
    for n in range(count):
        key = ThreadKey("slack", "T1", f"C{n % 7}", f"t{n}")
        text = f"{rng.choice(QUESTIONS)} {n % 50}"
        msg = IncomingMessage(key, f"m{n}", "U1", "Ada", text, False, datetime.now(UTC))
        stored = await store.record_inbound(msg, 8)
        assert stored is not None
        usage = Usage("gpt-4o-mini", 900, 120, 0.0002)
        reply = await store.record_reply(
            stored, Role.ASSISTANT, "answer [1]", 20, usage, settles=MessageStatus.ANSWERED
        )
        first = rng.uniform(0.3, 3.0)
        timings = AnswerTimings(0.1, first, first + rng.uniform(0.5, 6.0))
        await store.record_answer_facts(reply, grounding=rng.choice(groundings), timings=timings)
        if n % 5 == 0:
            await store.record_feedback(reply, "U1", rng.choice((1, -1)))
        if n % 9 == 0:
            await store.open_escalation(
                stored.conversation_id, reason="", trigger=Trigger.BUTTON, requested_by="U1"
            )


async def main(count: int) -> None:
    rng = random.Random(15)
    with tempfile.TemporaryDirectory() as folder:
        store = SQLiteStore(Path(folder) / "bench.db")
        await store.open()
        try:
            kb = KnowledgeBase(store.db, KBSettings(), write_lock=store.write_lock)
            await kb.setup()
            await kb.add(packaged_config_dir() / "sample_kb", name="sample")
            started = time.perf_counter()
            await seed(store, count, rng)
            print(f"seeded {count:,} conversations in {time.perf_counter() - started:.1f} s")
            now = datetime.now(UTC)
            steps: list[tuple[str, float]] = []
            t = time.perf_counter()
            activities = await store.activity(now - timedelta(days=1), now + timedelta(days=1))
            steps.append(("read (store.activity)", time.perf_counter() - t))
            t = time.perf_counter()
            judged = judge_all(activities, now, 0)
            report = build_report(judged, since=now.date(), until=now.date() + timedelta(days=1),
                                  platform=None, assume_resolved_hours=0)  # fmt: skip
            steps.append(("judge + figures", time.perf_counter() - t))
            t = time.perf_counter()
            report.coverage_gaps = await coverage_gaps(judged, kb, [])
            steps.append(("coverage gaps (grouping + KB search)", time.perf_counter() - t))
            t = time.perf_counter()
            page = render_page(report)
            steps.append(("HTML page", time.perf_counter() - t))
            t = time.perf_counter()
            rows = to_csv(judged)
            steps.append(("CSV", time.perf_counter() - t))
        finally:
            await store.close()
    for name, seconds in steps:
        print(f"{name:<40} {seconds * 1000:8.0f} ms")
    print(f"{'total':<40} {sum(s for _, s in steps) * 1000:8.0f} ms")
    print(
        f"page {len(page) / 1024:.0f} KiB, CSV {len(rows) / 1024:.0f} KiB, {len(report.coverage_gaps)} gaps"
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:.0f} MiB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=10_000)
    asyncio.run(main(parser.parse_args().conversations))
