"""`supportbot history`, `stats` and the list of `escalations`: read what the store has recorded."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

from bot.cli.output import print_table
from bot.cli.root import State, global_options

if TYPE_CHECKING:
    from bot.events import ThreadKey
    from bot.settings import LoadedConfig
    from bot.storage.store import Stats


@click.command(help="print one stored conversation")
@click.option("--thread", required=True, help="conversation name (the console's --thread)")
@click.option("--platform", default="console", show_default=True, help="platform of the conversation")
@click.option("--channel", default=None, help="channel id (default: the console's)")
@click.option("--workspace", default="", help="workspace id (Slack team, Discord guild)")
@click.option("--limit", type=int, default=200, show_default=True, help="most recent messages to show")
@global_options
@click.pass_obj
def history(state: State, thread: str, platform: str, channel: str | None, workspace: str, limit: int) -> int:
    from bot.events import ThreadKey

    if channel is None:
        channel = "console" if platform == "console" else ""
    key = ThreadKey(platform, workspace, channel, thread)
    return state.run(lambda config: asyncio.run(_history(config, key, limit)))


async def _history(config: LoadedConfig, key: ThreadKey, limit: int) -> int:
    from bot.app import open_store

    async with open_store(config) as store:
        conv = await store.find_conversation(key)
        if conv is None:
            click.echo(f"supportbot: no conversation '{key.thread}' on {key.platform}", err=True)
            return 1
        print(f"conversation {key.thread} ({key.platform}), state: {conv.state}")
        for m in await store.messages(conv.id, limit):
            who = m.user_name or m.user_id if m.role == "user" else m.role
            when = m.created_at.astimezone().strftime("%Y-%m-%d %H:%M:%S")
            flag = f" [{m.status}{': ' + m.error if m.error else ''}]" if m.status == "failed" else ""
            print(f"{when}  {who}{flag}: {m.text}")
    return 0


def duration(seconds: float) -> str:
    """A short age: 5m, 3h07m, 2d04h."""
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours < 48 else f"{hours // 24}d{hours % 24:02d}h"


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def list_escalations(config: LoadedConfig) -> int:
    """The open escalations (`supportbot escalations`, bot/cli/escalations.py), with their ids."""
    from bot.app import open_store

    async with open_store(config) as store:
        rows = await store.open_escalations()
    if not rows:
        print("no open escalations")
        return 0
    now = datetime.now(UTC)
    table = [("id", "state", "age", "platform", "conversation", "requested by", "reason")]
    for record, key in rows:
        where = "/".join(p for p in (key.workspace, key.channel, key.thread) if p)
        table.append(
            (str(record.id), record.state, duration((now - record.requested_at).total_seconds()),
             key.platform, where, record.requested_by, record.reason or "-")
        )  # fmt: skip
    print_table(table)
    return 0


@click.command(help="conversations, messages, tokens and cost by model")
@global_options
@click.pass_obj
def stats(state: State) -> int:
    return state.run(lambda config: asyncio.run(_stats(config)))


async def _stats(config: LoadedConfig) -> int:
    from bot.app import open_store

    async with open_store(config) as store:
        s = await store.stats()
    print(f"conversations  {s.conversations:>10,}")
    print(f"messages       {s.messages:>10,}")
    print(f"escalations    {s.escalations:>10,}  ({s.open_escalations:,} open)")
    for label, values in (("time to claim", s.seconds_to_claim), ("time to resolve", s.seconds_to_resolve)):
        if values:
            p50, p90 = _percentile(values, 0.5), _percentile(values, 0.9)
            print(f"{label}: p50 {duration(p50)}, p90 {duration(p90)} ({len(values):,} escalations)")
    if not s.by_model:
        print("no model usage recorded yet")
        return 0
    print_table(_usage_rows(s), right_align=True)
    return 0


def _usage_rows(s: Stats) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = [("model", "replies", "prompt tok", "completion tok", "cost USD")]
    for m in [*s.by_model, None]:
        models = s.by_model if m is None else [m]
        rows.append(
            (
                "total" if m is None else m.model,
                f"{sum(x.replies for x in models):,}",
                f"{sum(x.prompt_tokens for x in models):,}",
                f"{sum(x.completion_tokens for x in models):,}",
                f"{sum(x.cost_usd for x in models):.4f}",
            )
        )
    return rows
