"""Benchmark of the knowledge base: time to index the Zulip help corpus, search latency p50/p99.

Run: .venv/bin/python bench/bench_kb.py [CORPUS_DIR] [QUESTIONS.jsonl]; prints figures only.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiosqlite

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.kb import KBSettings, KnowledgeBase
from bot.kb.evaluate import load_questions

CORPUS = Path("/work/shared/kb/zulip-help")
QUESTIONS = Path("/work/shared/kb/zulip-help-dev.jsonl")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def main(corpus: Path, questions_file: Path) -> None:
    questions = load_questions(questions_file)
    with tempfile.TemporaryDirectory() as tmp:
        async with aiosqlite.connect(Path(tmp) / "bench.db") as db:
            await db.execute("PRAGMA journal_mode=WAL")
            kb = KnowledgeBase(db, KBSettings())
            await kb.setup()
            start = time.perf_counter()
            report = await kb.add(corpus)
            index_s = time.perf_counter() - start
            start = time.perf_counter()
            await kb.add(corpus)
            reindex_s = time.perf_counter() - start
            for q in questions[:5]:  # warm-up
                await kb.search(q.question)
            latencies: list[float] = []
            for _ in range(5):
                for q in questions:
                    t = time.perf_counter()
                    await kb.search(q.question)
                    latencies.append((time.perf_counter() - t) * 1000)
    print(f"corpus: {corpus} ({report.added} pages, {report.chunks} chunks)")
    print(f"index (cold): {index_s * 1000:.0f} ms; re-index (unchanged): {reindex_s * 1000:.0f} ms")
    print(
        f"search over {len(latencies)} queries: p50={percentile(latencies, 0.5):.2f} ms "
        f"p99={percentile(latencies, 0.99):.2f} ms mean={statistics.fmean(latencies):.2f} ms"
    )


if __name__ == "__main__":
    args = sys.argv[1:]
    asyncio.run(main(Path(args[0]) if args else CORPUS, Path(args[1]) if len(args) > 1 else QUESTIONS))
