"""`supportbot kb learned list | approve ID | discard ID`: the learning loop's help entries (drafted
from staff answers when an escalation is resolved) reviewed from the terminal, as staff do with the
Save and Discard buttons under a card. Approved entries are indexed as the source `learned`."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import click

from bot.cli.output import print_table
from bot.cli.root import State, global_options

if TYPE_CHECKING:
    from bot.settings import LoadedConfig

OPERATOR = "cli"  # who decided, for entries approved or discarded from the terminal


def learned_commands() -> click.Group:
    @click.group("learned", help="help entries learned from staff answers: list, approve, discard")
    @global_options
    def learned() -> None:
        pass

    @learned.command("list", help="list learned entries (proposed first)")
    @click.option("--all", "everything", is_flag=True, help="also approved and discarded entries")
    @global_options
    @click.pass_obj
    def list_(state: State, everything: bool) -> int:
        return state.run(lambda config: asyncio.run(_list(config, everything)))

    @learned.command(help="save a proposed entry: the bot answers from it and cites it")
    @click.argument("entry_id", type=click.IntRange(min=1), metavar="ID")
    @click.option("--answer", default=None, help="the answer as it should read (edits the draft)")
    @global_options
    @click.pass_obj
    def approve(state: State, entry_id: int, answer: str | None) -> int:
        return state.run(lambda config: asyncio.run(_decide(config, entry_id, "approve", answer)))

    @learned.command(help="drop a proposed entry")
    @click.argument("entry_id", type=click.IntRange(min=1), metavar="ID")
    @global_options
    @click.pass_obj
    def discard(state: State, entry_id: int) -> int:
        return state.run(lambda config: asyncio.run(_decide(config, entry_id, "discard", None)))

    return learned


async def _list(config: LoadedConfig, everything: bool) -> int:
    from bot.app import open_store
    from bot.storage.store import LearnedStatus

    async with open_store(config) as store:
        entries = await store.learned_entries(None if everything else LearnedStatus.PROPOSED)
    if not entries:
        click.echo("no learned entries" if everything else "no proposed entries (--all lists the others)")
        return 0
    order = {LearnedStatus.PROPOSED: 0, LearnedStatus.APPROVED: 1, LearnedStatus.DISCARDED: 2}
    rows: list[tuple[str, ...]] = [("id", "status", "date", "question", "answer")]
    for e in sorted(entries, key=lambda e: (order[e.status], e.id)):
        answer = " ".join(e.answer.split())
        rows.append(
            (str(e.id), e.status.value, e.created_at.date().isoformat(), e.question[:60],
             answer[:80] + ("…" if len(answer) > 80 else ""))
        )  # fmt: skip
    print_table(rows)
    return 0


async def _decide(config: LoadedConfig, entry_id: int, action: str, answer: str | None) -> int:
    from bot.analytics.learning import Learning
    from bot.app import kb_database, knowledge_base, learned_folder, open_store

    # With Postgres the approved page is shared with every instance, as `kb add`'s are.
    async with (
        open_store(config) as store,
        kb_database(config, store) as kb_db,
        knowledge_base(config, store, kb_db) as kb,
    ):
        learning = Learning(store, kb, None, learned_folder(config))
        if action == "approve":
            entry = await learning.approve(entry_id, OPERATOR, answer=answer)
        else:
            entry = await learning.discard(entry_id, OPERATOR)
    if entry is None:
        click.echo(f"supportbot: no proposed entry {entry_id} (`supportbot kb learned list --all`)", err=True)
        return 1
    done = "approved and indexed as source 'learned'" if action == "approve" else "discarded"
    click.echo(f"entry {entry.id} {done}: {entry.question}")
    return 0
