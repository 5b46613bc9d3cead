"""`supportbot forget`: delete one person's data on their request, and say what was removed."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import click

from bot.cli.root import State, global_options

if TYPE_CHECKING:
    from bot.settings import LoadedConfig


@click.command(help="delete one user's messages (and the bot's replies), feedback and ratings")
@click.option("--platform", required=True, help="slack, discord or console")
@click.option(
    "--user", "user_id", required=True, help="the user's id on that platform (Slack U…, Discord number)"
)
@global_options
@click.pass_obj
def forget(state: State, platform: str, user_id: str) -> int:
    return state.run(lambda config: asyncio.run(_forget(config, platform, user_id)))


async def _forget(config: LoadedConfig, platform: str, user_id: str) -> int:
    from bot.app import open_store

    async with open_store(config) as store:
        removed = await store.forget_user(platform, user_id)
    print(
        f"forgot {platform} user {user_id}: {removed.messages} message(s), {removed.feedback} feedback,"
        f" {removed.ratings} rating(s), {removed.conversations} empty conversation(s) removed"
    )
    return 0
