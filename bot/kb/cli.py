"""The `kb` command line: add, list, remove, search and eval over the bot's knowledge base.

`bot/cli.py` registers the parser with `add_kb_parser` and runs it with `run_kb_command`, passing the
database connection it opened; every user error is one line on stderr and a non-zero exit code.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any, TextIO

import aiosqlite

from .embeddings import Embedder
from .evaluate import EvalDataError, Judge, JudgeError, evaluate, load_questions
from .knowledge_base import KnowledgeBase
from .loader import SourceError
from .schema import SchemaError
from .settings import KBSettings
from .types import SearchResult


def add_kb_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register `kb` and its sub-commands on an argparse sub-parsers object."""
    kb: argparse.ArgumentParser = subparsers.add_parser("kb", help="manage and query the knowledge base")
    commands = kb.add_subparsers(dest="kb_command", metavar="COMMAND", required=True)

    add = commands.add_parser("add", help="index folders or files of help pages")
    add.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    add.add_argument("--name", help="source name (default: the folder's name)")
    add.add_argument("--url-template", help="public URL of a page, e.g. https://help.example.com/{stem}")
    add.add_argument("--include-pattern", help="regex for include lines; group 1 = snippet file")
    add.add_argument("--quiet", action="store_true", help="no progress bar")

    commands.add_parser("list", help="list indexed sources")

    remove = commands.add_parser("remove", help="drop an indexed source")
    remove.add_argument("name")

    search = commands.add_parser("search", help="search the knowledge base")
    search.add_argument("query", nargs="?", help="question; with --json and none, read stdin lines")
    search.add_argument("--json", action="store_true", help="one JSON object per question")
    search.add_argument("-k", type=int, default=None, help="results per question")

    ev = commands.add_parser("eval", help="score retrieval on a JSONL question set")
    ev.add_argument("file", type=Path, metavar="FILE.jsonl")
    ev.add_argument("--details", action="store_true", help="also print each missed question")
    ev.add_argument(
        "--with-llm",
        action="store_true",
        help="also ask the configured model each question with its passages, as the bot would;"
        " an answer that cites none counts as abstaining",
    )
    return kb


class _ProgressBar:
    """A one-line stderr progress bar, drawn only when stderr is a terminal."""

    def __init__(self, label: str, stream: TextIO) -> None:
        self._label = label
        self._stream = stream
        self._last = 0.0
        self._enabled = stream.isatty()

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if not self._enabled or (done < total and now - self._last < 0.05):
            return
        self._last = now
        width = 30
        filled = width * done // total if total else width
        self._stream.write(f"\r{self._label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        if done >= total:
            self._stream.write("\n")
        self._stream.flush()


def _result_json(result: SearchResult) -> str:
    return json.dumps(
        {
            "query": result.query,
            "abstain": result.abstain,
            "confidence": round(result.confidence, 4),
            "results": [
                {
                    "source": h.source,
                    "title": h.title,
                    "section": h.section,
                    "url": h.url,
                    "score": h.score,
                }
                for h in result.hits
            ],
        },
        ensure_ascii=False,
    )


def _print_result(result: SearchResult, out: TextIO) -> None:
    verdict = "abstain (nothing relevant enough)" if result.abstain else "answerable"
    out.write(f"{verdict}; confidence {result.confidence:.2f}\n")
    for rank, hit in enumerate(result.hits, start=1):
        where = hit.url or hit.source
        out.write(f"{rank}. {hit.title} — {hit.section}  [{where}]  score {hit.score:.2f}\n")


async def _add(args: argparse.Namespace, kb: KnowledgeBase, err: TextIO, out: TextIO) -> int:
    if args.name and len(args.paths) > 1:
        err.write("kb add: --name needs exactly one PATH\n")
        return 2
    for path in args.paths:
        bar = None if args.quiet else _ProgressBar(f"indexing {path}", err)
        report = await kb.add(
            path,
            name=args.name,
            url_template=args.url_template,
            include_pattern=args.include_pattern,
            progress=bar,
        )
        out.write(
            f"{report.source_name}: added {report.added}, changed {report.changed}, "
            f"unchanged {report.unchanged}, removed {report.removed}; {report.chunks} chunks\n"
        )
        for warning in report.warnings:
            err.write(f"warning: {warning}\n")
    return 0


async def _search(args: argparse.Namespace, kb: KnowledgeBase, inp: TextIO, out: TextIO) -> int:
    k = args.k if args.k is not None else max(kb.settings.top_k, 5)
    if args.query is not None:
        result = await kb.search(args.query, k=k)
        out.write(_result_json(result) + "\n") if args.json else _print_result(result, out)
        return 0
    if not args.json:
        raise _UsageError("kb search: give a query, or use --json to read questions from stdin")
    for line in inp:
        question = line.rstrip("\n")
        if question.strip():
            out.write(_result_json(await kb.search(question, k=k)) + "\n")
            out.flush()
    return 0


class _UsageError(Exception):
    pass


async def _run(
    args: argparse.Namespace, kb: KnowledgeBase, inp: TextIO, out: TextIO, err: TextIO, judge: Judge | None
) -> int:
    command = args.kb_command
    if command == "add":
        return await _add(args, kb, err, out)
    if command == "list":
        sources = await kb.sources()
        if not sources:
            out.write("no sources indexed\n")
        for s in sources:
            url = f"  url {s.url_template}" if s.url_template else ""
            out.write(
                f"{s.name}: {s.documents} pages, {s.chunks} chunks, from {s.root}, "
                f"indexed {s.indexed_at}{url}\n"
            )
        return 0
    if command == "remove":
        if await kb.remove(args.name):
            out.write(f"removed {args.name}\n")
            return 0
        err.write(f"kb remove: no source named {args.name!r}\n")
        return 1
    if command == "search":
        return await _search(args, kb, inp, out)
    if command == "eval":
        questions = await asyncio.to_thread(load_questions, args.file)
        if args.with_llm and judge is None:
            raise _UsageError("kb eval --with-llm needs a language model: set OPENAI_API_KEY")
        report = await evaluate(kb, questions, judge=judge if args.with_llm else None)
        if args.details:
            for o in report.outcomes:
                relevant = set(o.question.relevant)
                if (not relevant) != o.abstain or (relevant and o.ranked[:1] != o.question.relevant[:1]):
                    out.write(
                        f"{o.question.id}: abstain={o.abstain} want={list(o.question.relevant)} "
                        f"got={list(o.ranked[:5])}\n"
                    )
        out.write(report.line() + "\n")
        return 0
    raise _UsageError(f"kb: unknown command {command!r}")


async def run_kb_command(
    args: argparse.Namespace,
    db: aiosqlite.Connection,
    settings: KBSettings,
    *,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    embedder: Embedder | None = None,
    judge: Judge | None = None,
) -> int:
    """Execute a parsed `kb ...` command against `db`; returns the process exit code. `judge` is
    what `kb eval --with-llm` asks (see `bot.conversation.answer_check`)."""
    inp = stdin or sys.stdin
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    kb = KnowledgeBase(db, settings, embedder=embedder)
    try:
        await kb.setup()
        return await _run(args, kb, inp, out, err, judge)
    except (SourceError, EvalDataError, JudgeError, SchemaError, _UsageError) as exc:
        err.write(f"error: {exc}\n")
        return 1 if not isinstance(exc, _UsageError) else 2
    except sqlite3.Error as exc:
        err.write(f"error: database: {exc}\n")
        return 1
    except OSError as exc:
        err.write(f"error: {exc.strerror or exc}: {exc.filename or ''}\n".replace(": \n", "\n"))
        return 1
