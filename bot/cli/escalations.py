"""`supportbot escalations [claim | reply | resolve ID]`: the open escalations, and staff's side of a
handoff from a terminal, so it can be tried end to end with no Slack or Discord.

Whoever runs these commands has the bot's database, so they act as staff (`--as NAME`, default the
login name). What they say reaches a console conversation as a notice the chat shows (on its next
line, or on resume); a Slack or Discord user is not told from here.
"""

from __future__ import annotations

import asyncio
import getpass
from typing import TYPE_CHECKING

import click

from bot.cli.root import State, global_options

if TYPE_CHECKING:
    from bot.settings import LoadedConfig
    from bot.storage.store import ConversationStore

STAFF_NAME = click.option(
    "--as", "staff", default=None, help="your name as the user sees it (default: login name)"
)


@click.group(
    "escalations",
    invoke_without_command=True,
    help="open escalations: state, age, platform and reason; claim, reply or resolve one",
)
@global_options
@click.pass_context
def escalations(ctx: click.Context) -> int | None:
    if ctx.invoked_subcommand is not None:
        return None
    from bot.cli.inspect import list_escalations

    state: State = ctx.ensure_object(State)
    return state.run(lambda config: asyncio.run(list_escalations(config)))


@escalations.command(help="take an escalation: the user is told a person has joined")
@click.argument("escalation_id", type=int, metavar="ID")
@STAFF_NAME
@global_options
@click.pass_obj
def claim(state: State, escalation_id: int, staff: str | None) -> int:
    return state.run(lambda config: asyncio.run(_act(config, "claim", escalation_id, staff)))


@escalations.command(help="write to the user of an escalation (claims it if nobody has)")
@click.argument("escalation_id", type=int, metavar="ID")
@click.argument("words", nargs=-1, required=True, metavar="TEXT...")
@STAFF_NAME
@global_options
@click.pass_obj
def reply(state: State, escalation_id: int, words: tuple[str, ...], staff: str | None) -> int:
    text = " ".join(words)
    return state.run(lambda config: asyncio.run(_act(config, "reply", escalation_id, staff, text)))


@escalations.command(help="hand the conversation back to the bot")
@click.argument("escalation_id", type=int, metavar="ID")
@STAFF_NAME
@global_options
@click.pass_obj
def resolve(state: State, escalation_id: int, staff: str | None) -> int:
    return state.run(lambda config: asyncio.run(_act(config, "resolve", escalation_id, staff)))


async def _act(
    config: LoadedConfig, action: str, escalation_id: int, staff: str | None, text: str = ""
) -> int:
    from bot.app import open_store

    name = staff or getpass.getuser()
    async with open_store(config) as store:
        found = await store.escalation(escalation_id)
        if found is None or found[0].resolved_at is not None:
            why = "no such escalation" if found is None else "it is already resolved"
            click.echo(f"supportbot: can't {action} escalation {escalation_id}: {why}", err=True)
            return 1
        record, key = found
        note = await _change(store, action, record.conversation_id, record.claimed_by, name, text)
        if note is None:
            click.echo(
                f"supportbot: escalation {escalation_id} is already claimed by {record.claimed_by}", err=True
            )
            return 1
        told = await _tell(store, record.conversation_id, note)
    where = "/".join(p for p in (key.workspace, key.channel, key.thread) if p)
    print(f"escalation {escalation_id} ({key.platform} {where}): {action} done as {name}")
    if key.platform != "console":
        print(
            f"the user is on {key.platform}: tell them there (this terminal doesn't post to {key.platform})"
        )
    elif told:
        print("the user sees it in their chat on their next line, or when they resume the conversation")
    return 0


async def _change(
    store: ConversationStore, action: str, conversation_id: int, claimed_by: str | None, name: str, text: str
) -> str | None:
    """Claim, reply or resolve; what the user is told, None if someone else has it claimed."""
    if action == "resolve":
        await store.resolve_escalation(conversation_id, name)
        return "This conversation is resolved and I'm back to help."
    if claimed_by is None:
        await store.claim_escalation(conversation_id, name)
    elif action == "claim":
        return None
    if action == "claim":
        return f"{name} from our team has joined the conversation."
    return f"{name} (support): {text}"


async def _tell(store: ConversationStore, conversation_id: int, note: str) -> bool:
    """Store `note` as a notice to the user's latest message (undelivered: the console shows it)."""
    from bot.storage.store import Role

    latest = next(
        (m for m in reversed(await store.messages(conversation_id, 50)) if m.role is Role.USER), None
    )
    if latest is None:
        return False
    await store.record_reply(latest, Role.NOTICE, note, 0, None, settles=latest.status)
    return True
