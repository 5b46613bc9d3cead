"""`supportbot kb add | list | remove | search | eval`: the command line of the knowledge base.

Each command turns its arguments into a request (`bot.kb.cli`) and hands it to `execute`; the
`supportbot` group passes `run_in_app`, which opens the store (and embedder, and the model for
`eval --with-llm`) and runs it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from bot.cli.learned import learned_commands
from bot.cli.root import State, global_options

if TYPE_CHECKING:
    from bot.kb.cli import KBRequest
    from bot.settings import LoadedConfig

Execute = Callable[[State, "KBRequest"], Any]


def kb_commands(execute: Execute) -> click.Group:
    """The `kb` group; each command's result is `execute(state, request)`."""

    @click.group("kb", help="manage and query the knowledge base")
    @global_options
    def kb() -> None:
        pass

    @kb.command(help="index folders or files of help pages")
    @click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path), metavar="PATH...")
    @click.option("--name", default=None, help="source name (default: the folder's name)")
    @click.option(
        "--url-template", default=None, help="public URL of a page, e.g. https://help.example.com/{stem}"
    )
    @click.option("--include-pattern", default=None, help="regex for include lines; group 1 = snippet file")
    @click.option("--quiet", is_flag=True, help="no progress bar")
    @global_options
    @click.pass_obj
    def add(
        state: State,
        paths: tuple[Path, ...],
        name: str | None,
        url_template: str | None,
        include_pattern: str | None,
        quiet: bool,
    ) -> Any:
        from bot.kb.cli import KBAdd

        return execute(state, KBAdd(paths, name, url_template, include_pattern, quiet))

    @kb.command("list", help="list indexed sources")
    @global_options
    @click.pass_obj
    def list_(state: State) -> Any:
        from bot.kb.cli import KBList

        return execute(state, KBList())

    @kb.command(help="drop an indexed source")
    @click.argument("name")
    @global_options
    @click.pass_obj
    def remove(state: State, name: str) -> Any:
        from bot.kb.cli import KBRemove

        return execute(state, KBRemove(name))

    @kb.command(help="search the knowledge base")
    @click.argument("query", required=False)
    @click.option(
        "--json", "as_json", is_flag=True, help="one JSON object per question (no QUERY: stdin lines)"
    )
    @click.option("-k", "k", type=int, default=None, help="results per question")
    @global_options
    @click.pass_obj
    def search(state: State, query: str | None, as_json: bool, k: int | None) -> Any:
        from bot.kb.cli import KBSearch

        return execute(state, KBSearch(query, json=as_json, k=k))

    @kb.command("eval", help="score retrieval on a JSONL question set")
    @click.argument("file", type=click.Path(path_type=Path), metavar="FILE.jsonl")
    @click.option("--details", is_flag=True, help="also print each missed question")
    @click.option(
        "--with-llm",
        is_flag=True,
        help="also ask the configured model each question with its passages, as the bot would;"
        " an answer that cites none counts as abstaining",
    )
    @global_options
    @click.pass_obj
    def eval_(state: State, file: Path, details: bool, with_llm: bool) -> Any:
        from bot.kb.cli import KBEval

        return execute(state, KBEval(file, details=details, with_llm=with_llm))

    kb.add_command(learned_commands())  # `kb learned …`: the learning loop (bot/cli/learned.py)
    return kb


def run_in_app(state: State, request: KBRequest) -> int:
    """Load the settings and run `request` on the bot's database."""
    return state.run(lambda config: asyncio.run(_run(config, request)))


async def _run(config: LoadedConfig, request: KBRequest) -> int:
    from datetime import UTC, datetime

    from bot.app import build_llm, kb_database, open_store, shared_pages
    from bot.conversation.answer_check import ModelCheck
    from bot.conversation.prompt import render_system_prompt
    from bot.kb.cli import KBEval, run_kb_command
    from bot.kb.embeddings import build_embedder

    settings = config.settings
    embedder = build_embedder(settings.kb.embeddings)
    llm = build_llm(config) if isinstance(request, KBEval) and request.with_llm else None
    judge = None
    if llm is not None:
        system = render_system_prompt(
            config.system_prompt, bot_name=settings.bot.name, company=settings.bot.company,
            today=datetime.now(UTC).date(),
        )  # fmt: skip
        judge = ModelCheck(llm, system, settings.kb)
    try:
        async with open_store(config) as store, kb_database(config, store) as kb_db:
            return await run_kb_command(
                request, kb_db.db, settings.kb, embedder=embedder, judge=judge, shared=shared_pages(store)
            )
    finally:
        if embedder is not None:
            await embedder.close()
        if llm is not None:
            await llm.close()
