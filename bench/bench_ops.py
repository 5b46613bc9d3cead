"""What a scrape costs: GET /metrics and GET /readyz served by the real ops server over HTTP, on a
real SQLite store of growing size (the outbox depth is a COUNT over the messages table), and how
long a query on the store's shared connection waits meanwhile.

    .venv/bin/python -m bench.bench_ops            # 10k, 100k and 1M messages
    .venv/bin/python -m bench.bench_ops --quick    # 10k and 100k
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
from prometheus_client import CollectorRegistry

from bot.events import IncomingMessage, ThreadKey
from bot.ops.metrics import Metrics
from bot.ops.readiness import Readiness, database_check
from bot.ops.server import Ops
from bot.storage.sqlite import SQLiteStore
from bot.storage.store import MessageStatus, Role

SAMPLES = 50


COLUMNS = (
    "conversation_id, platform, role, text, user_id, user_name, {status}, error, reply_to, tokens,"
    " model, prompt_tokens, completion_tokens, cost_usd, created_at, updated_at"
)
# Copies keep their row's status, but 1 answer in 100 is left pending, as a busy outbox might have.
PENDING_NOW_AND_THEN = "CASE WHEN id % 100 = 0 AND role = 'assistant' THEN 'pending' ELSE status END"


async def grow(store: SQLiteStore, messages: int) -> None:
    """One real exchange (a question and its delivered answer, through the store's API), copied in
    SQL until the table holds `messages` rows."""
    key = ThreadKey("slack", "T1", "C1", "1.1")
    question = IncomingMessage(key, "m0", "U1", "Ada", "a question", True, datetime.now(UTC))
    stored = await store.record_inbound(question, 3)
    assert stored is not None
    reply = await store.record_reply(
        stored, Role.ASSISTANT, "an answer", 3, None, settles=MessageStatus.ANSWERED
    )
    await store.mark_delivered(reply, "1.2")
    insert = COLUMNS.format(status="status")
    select = COLUMNS.format(status=PENDING_NOW_AND_THEN)
    count = 2
    while count < messages:
        batch = min(count, messages - count)
        await store.db.execute(f"INSERT INTO messages ({insert}) SELECT {select} FROM messages LIMIT {batch}")
        count += batch


async def timed(session: aiohttp.ClientSession, url: str) -> float:
    began = time.perf_counter()
    async with session.get(url) as resp:
        await resp.read()
        assert resp.status == 200, resp.status
    return time.perf_counter() - began


async def scrapes(
    session: aiohttp.ClientSession, url: str, store: SQLiteStore
) -> tuple[list[float], list[float]]:
    """SAMPLES scrapes one after another, sorted; and how long the store's shared connection took to
    answer a query meanwhile (what an answer in flight would wait), one query at a time."""
    done = asyncio.Event()
    stalls: list[float] = []

    async def beside() -> None:
        while not done.is_set():
            began = time.perf_counter()
            await store.ping()
            stalls.append(time.perf_counter() - began)
            await asyncio.sleep(0.001)

    pinging = asyncio.create_task(beside())
    samples = sorted([await timed(session, url) for _ in range(SAMPLES)])
    done.set()
    await pinging
    return samples, stalls


async def measure(messages: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.db"
        store = SQLiteStore(path)
        await store.open()
        try:
            await grow(store, messages)
            readiness = Readiness()
            readiness.add("database", database_check(store, path))
            ops = Ops(Metrics(CollectorRegistry()), store, readiness)
            await ops.start("127.0.0.1", 0)
            base = f"http://127.0.0.1:{ops.port}"
            async with aiohttp.ClientSession() as session:
                for path_ in ("/metrics", "/readyz"):
                    await timed(session, base + path_)  # warm the page cache
                    samples, stalls = await scrapes(session, base + path_, store)
                    p50, p99 = statistics.median(samples), samples[int(len(samples) * 0.99) - 1]
                    ms = f"p50 {p50 * 1000:7.2f} ms  p99 {p99 * 1000:7.2f} ms"
                    held = f"a query beside it waited at most {max(stalls) * 1000:6.2f} ms"
                    print(f"{messages:>9,} messages  GET {path_:<8}  {ms}  ({held})", flush=True)
            await ops.close()
        finally:
            await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    sizes = (10_000, 100_000) if parser.parse_args().quick else (10_000, 100_000, 1_000_000)
    for size in sizes:
        asyncio.run(measure(size))


if __name__ == "__main__":
    main()
