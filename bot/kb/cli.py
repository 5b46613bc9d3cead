"""What the `kb` commands do: add, list, remove, search and eval over the bot's knowledge base.

`bot/cli/kb.py` parses the command line into one of the requests below and runs it with
`run_kb_command` on the database connection it opened; every user error is one line on stderr
and a non-zero exit code. Progress bars (Rich) are drawn only when stderr is a terminal.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import aiosqlite

from .embeddings import Embedder
from .evaluate import EvalDataError, Judge, JudgeError, evaluate, load_questions, misses
from .knowledge_base import KnowledgeBase
from .loader import SourceError
from .schema import SchemaError
from .settings import KBSettings
from .shared import SharedError, SharedPages
from .sources import SAMPLE
from .types import SearchResult


@dataclass(frozen=True, slots=True)
class KBAdd:
    paths: tuple[Path, ...]
    name: str | None = None
    url_template: str | None = None
    include_pattern: str | None = None
    quiet: bool = False


@dataclass(frozen=True, slots=True)
class KBList:
    pass


@dataclass(frozen=True, slots=True)
class KBRemove:
    name: str


@dataclass(frozen=True, slots=True)
class KBSearch:
    query: str | None  # None: with json, one question per stdin line
    json: bool = False
    k: int | None = None


@dataclass(frozen=True, slots=True)
class KBEval:
    file: Path
    details: bool = False
    with_llm: bool = False


KBRequest = KBAdd | KBList | KBRemove | KBSearch | KBEval


@dataclass(frozen=True, slots=True)
class _Streams:
    inp: TextIO
    out: TextIO
    err: TextIO


class _UsageError(Exception):
    pass


@contextmanager
def _progress(label: str, err: TextIO, quiet: bool) -> Iterator[Callable[[int, int], None] | None]:
    """A Rich progress bar on `err` when it is a terminal, else nothing."""
    from rich.console import Console

    console = Console(file=err)
    if quiet or not console.is_terminal:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as bar:
        task = bar.add_task(label, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


def _result_json(result: SearchResult) -> str:
    return json.dumps(
        {
            "query": result.query,
            "abstain": result.abstain,
            "confidence": round(result.confidence, 4),
            "results": [
                {"source": h.source, "title": h.title, "section": h.section, "url": h.url, "score": h.score}
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


async def _add(request: KBAdd, kb: KnowledgeBase, io: _Streams) -> int:
    if request.name and len(request.paths) > 1:
        io.err.write("kb add: --name needs exactly one PATH\n")
        return 2
    for path in request.paths:
        with _progress(f"indexing {path.name or path}", io.err, request.quiet) as bar:
            report = await kb.add(
                path,
                name=request.name,
                url_template=request.url_template,
                include_pattern=request.include_pattern,
                progress=bar,
            )
        io.out.write(
            f"{report.source_name}: added {report.added}, changed {report.changed}, "
            f"unchanged {report.unchanged}, removed {report.removed}; {report.chunks} chunks\n"
        )
        for warning in report.warnings:
            io.err.write(f"warning: {warning}\n")
        if report.dropped_sample:
            io.out.write(f"removed the sample help center: {report.source_name} answers from now on\n")
    return 0


def _liveness(name: str, documents: int, enabled: bool) -> str:
    """Whether the bot answers from a source, and why not."""
    if not enabled:
        return "not searched: kb.enabled is false"
    if not documents:
        return "not searched: no pages"
    if name == SAMPLE:
        return "live: the packaged sample help center, removed when you add your own pages"
    return "live"


async def _list(kb: KnowledgeBase, io: _Streams) -> int:
    sources = await kb.sources()
    if not sources:
        io.out.write("no sources indexed\n")
    for s in sources:
        url = f"  url {s.url_template}" if s.url_template else ""
        io.out.write(
            f"{s.name} ({_liveness(s.name, s.documents, kb.settings.enabled)}): {s.documents} pages,"
            f" {s.chunks} chunks, from {s.root}, indexed {s.indexed_at}{url}\n"
        )
    return 0


async def _remove(request: KBRemove, kb: KnowledgeBase, io: _Streams) -> int:
    if await kb.remove(request.name):
        io.out.write(f"removed {request.name}\n")
        return 0
    io.err.write(f"kb remove: no source named {request.name!r}\n")
    return 1


async def _search(request: KBSearch, kb: KnowledgeBase, io: _Streams) -> int:
    k = request.k if request.k is not None else max(kb.settings.top_k, 5)
    if request.query is not None:
        result = await kb.search(request.query, k=k)
        io.out.write(_result_json(result) + "\n") if request.json else _print_result(result, io.out)
        return 0
    if not request.json:
        raise _UsageError("kb search: give a query, or use --json to read questions from stdin")
    for line in io.inp:
        question = line.rstrip("\n")
        if question.strip():
            io.out.write(_result_json(await kb.search(question, k=k)) + "\n")
            io.out.flush()
    return 0


async def _eval(request: KBEval, kb: KnowledgeBase, io: _Streams, judge: Judge | None) -> int:
    questions = await asyncio.to_thread(load_questions, request.file)
    if request.with_llm and judge is None:
        raise _UsageError("kb eval --with-llm needs a language model: set OPENAI_API_KEY")
    report = await evaluate(kb, questions, judge=judge if request.with_llm else None)
    if request.details:
        for line in misses(report):
            io.out.write(line + "\n")
    mode = "with the model's judgement" if request.with_llm else "retrieval alone (the bot without a model)"
    io.out.write(report.line() + "\n")
    io.out.write(f"{report.targets_line()}\n{report.ranking_line()}\nabstain decided by: {mode}\n")
    return 0


async def _run(request: KBRequest, kb: KnowledgeBase, io: _Streams, judge: Judge | None) -> int:
    match request:
        case KBAdd():
            return await _add(request, kb, io)
        case KBList():
            return await _list(kb, io)
        case KBRemove():
            return await _remove(request, kb, io)
        case KBSearch():
            return await _search(request, kb, io)
        case KBEval():
            return await _eval(request, kb, io, judge)


async def run_kb_command(
    request: KBRequest,
    db: aiosqlite.Connection,
    settings: KBSettings,
    *,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    embedder: Embedder | None = None,
    judge: Judge | None = None,
    shared: SharedPages | None = None,
) -> int:
    """Execute one `kb` request against `db`; returns the process exit code. `judge` is what
    `kb eval --with-llm` asks (see `bot.conversation.answer_check`). With `shared` (instances on
    one Postgres database) the index first applies what other instances published, and `add` and
    `remove` publish what they change."""
    io = _Streams(stdin or sys.stdin, stdout or sys.stdout, stderr or sys.stderr)
    kb = KnowledgeBase(db, settings, embedder=embedder, shared=shared)
    try:
        await kb.setup()
        await kb.sync()
        return await _run(request, kb, io, judge)
    except (SourceError, EvalDataError, JudgeError, SchemaError, SharedError, _UsageError) as exc:
        io.err.write(f"error: {exc}\n")
        return 1 if not isinstance(exc, _UsageError) else 2
    except sqlite3.Error as exc:
        io.err.write(f"error: database: {exc}\n")
        return 1
    except OSError as exc:
        io.err.write(f"error: {exc.strerror or exc}: {exc.filename or ''}\n".replace(": \n", "\n"))
        return 1
