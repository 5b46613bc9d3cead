"""`python -m bench`: every performance target beside its measured value, the floor and the load.

Runs the end-to-end benches (bench/e2e.py: Slack and Discord, 1 and 20 conversations at once, bot
and floor interleaved) and the memory bench (bench/rss.py), then prints one table on stdout
(progress goes to stderr). `--quick` runs the same shape at tiny sizes: it checks the plumbing,
its figures mean little. `--against TREE` adds the bot of another source tree as a third subject,
each round in turn, and rows of this bot against it: a change's A/B in one run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time
from dataclasses import replace
from pathlib import Path

from bench import e2e, rss
from bench.table import Row, print_sql, print_table, rows_of

PARTS = ("slack", "discord", "memory")
QUICK = e2e.Plan(rounds=1, sequential=2, concurrent=4, concurrency=2, warmup=1)


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _stop(signum: int, _: object) -> None:
    raise SystemExit(128 + signum)  # unwinds asyncio.run, so every child process is stopped too


def main(argv: list[str] | None = None) -> None:
    signal.signal(signal.SIGTERM, _stop)
    p = argparse.ArgumentParser(prog="python -m bench", description=(__doc__ or "").splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny sizes: checks the plumbing, not the speed")
    p.add_argument("--only", choices=PARTS, action="append", help="run only this part (repeatable)")
    p.add_argument("--rounds", type=int, help="rounds per subject and concurrency (default 3)")
    p.add_argument("--sql", action="store_true", help="also count and list the bot's SQLite work per answer")
    p.add_argument(
        "--against",
        type=Path,
        metavar="TREE",
        help="also run the bot of another source tree (e.g. a git worktree of an earlier commit), in turn",
    )
    args = p.parse_args(argv)
    parts = tuple(args.only or PARTS)
    plan = QUICK if args.quick else e2e.Plan()
    if args.rounds:
        plan = replace(plan, rounds=args.rounds)
    if args.sql:  # counting costs the bot CPU: its CPU figures then count the counting too
        plan = replace(plan, count_sql=True)
    if args.against:
        plan = replace(plan, against=args.against.resolve())
    memory_plan = rss.Plan.quick() if args.quick else rss.Plan()
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    before = os.getloadavg()
    rows: list[Row] = []
    platforms = tuple(part for part in parts if part != "memory")
    results = asyncio.run(e2e.run(plan, platforms, say)) if platforms else []
    rows += rows_of(results)
    if "memory" in parts:
        rows += rss.rows(asyncio.run(rss.run(memory_plan, say)), memory_plan)
    after = os.getloadavg()
    command = " ".join(["python -m bench", *(argv if argv is not None else sys.argv[1:])])
    loads = ", ".join(
        f"{'/'.join(f'{x:.2f}' for x in load)} {when}"
        for load, when in ((before, "before"), (after, "after"))
    )
    print(f"{command}: {started}, {os.cpu_count()} cores, load average (1/5/15 min) {loads}")
    print_table(rows)
    if args.sql:
        print_sql(results)


if __name__ == "__main__":
    main()
