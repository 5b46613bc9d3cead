"""`python -m bench.soak`: never lose a message, measured. Prints the figures for each platform."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

from bench.soak.run import Options, soak
from bench.soak.tally import report
from tests.fakes.serve import latency_range


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.splitlines()[0])
    p.add_argument("--platform", choices=("slack", "discord", "both"), default="both")
    p.add_argument("--messages", type=int, default=10_000, help="messages per platform")
    p.add_argument("--threads", type=int, default=500)
    p.add_argument("--kills", type=int, default=3, help="kill -9 of the bot, at random moments")
    p.add_argument("--fault-rate", type=float, default=0.2, help="share of LLM requests that fail")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--rate", type=float, default=20.0, help="messages a second offered")
    p.add_argument("--latency", type=latency_range, default=(0.1, 0.3), help="platform API seconds")
    p.add_argument("--retry-rate", type=float, default=0.1, help="Slack: delivered events retried anyway")
    p.add_argument("--dup-rate", type=float, default=0.05, help="events delivered twice")
    p.add_argument("--patience", type=float, default=20.0, help="seconds a user waits for an answer")
    p.add_argument("--settle", type=float, default=40.0, help="quiet seconds that end the run")
    p.add_argument("--llm-timeout", type=float, help="SUPPORTBOT_LLM__TIMEOUT_S (default: the bot's)")
    p.add_argument("--answer-deadline", type=float, help="SUPPORTBOT_LLM__ANSWER_DEADLINE_S")
    p.add_argument("--workdir", type=Path, help="keep the database, journals and bot log here")
    p.add_argument("--explain", action="store_true", help="also print a few lost, fragments, slowest")
    p.add_argument("--strict", action="store_true", help="exit 1 unless 0 lost/duplicates/fragments")
    return p


def main() -> None:
    args = parser().parse_args()
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop the bot and the fakes on the way out
    platforms = ("slack", "discord") if args.platform == "both" else (args.platform,)
    clean = True
    for platform in platforms:
        options = Options(
            platform=platform,
            messages=args.messages,
            threads=args.threads,
            kills=args.kills,
            fault_rate=args.fault_rate,
            seed=args.seed,
            rate=args.rate,
            latency=args.latency,
            retry_rate=args.retry_rate,
            dup_rate=args.dup_rate,
            patience_s=args.patience,
            settle_s=args.settle,
            llm_timeout_s=args.llm_timeout,
            answer_deadline_s=args.answer_deadline,
            workdir=args.workdir / platform if args.workdir else None,
        )
        figures = asyncio.run(soak(options))
        print(report(figures, explain=args.explain), flush=True)
        clean = clean and figures.clean
    if args.strict and not clean:
        sys.exit(1)


if __name__ == "__main__":
    main()
