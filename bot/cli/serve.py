"""`supportbot run` (serve Slack and/or Discord) and `supportbot invite-url` (the Discord invite)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from bot.cli.root import State, fail, global_options

if TYPE_CHECKING:
    from bot.settings import LoadedConfig


@click.command(help="serve Slack and/or Discord (every configured platform by default)")
@click.option("--slack", is_flag=True, help="start Slack (Socket Mode if SLACK_APP_TOKEN)")
@click.option("--slack-http", is_flag=True, help="start Slack in HTTP Events API mode")
@click.option("--discord", is_flag=True, help="start Discord")
@click.option("--host", default=None, help="HTTP mode: address to listen on (slack.http_host)")
@click.option("--port", type=int, default=None, help="HTTP mode: port (slack.http_port)")
@global_options
@click.pass_obj
def run(
    state: State, slack: bool, slack_http: bool, discord: bool, host: str | None, port: int | None
) -> int:
    requested: dict[str, str] = {}
    if slack or slack_http:
        requested["slack"] = "http" if slack_http else ""
    if discord:
        requested["discord"] = ""
    return state.run(lambda config: _serve(config, requested, host, port), service=True)


def _serve(config: LoadedConfig, requested: dict[str, str], host: str | None, port: int | None) -> int:
    from bot import eventloop
    from bot.platforms import RunOptions
    from bot.runner import plan, serve

    chosen, problems = plan(config, RunOptions(requested, host=host, port=port))
    if problems:
        for problem in problems[:-1]:
            click.echo(f"supportbot: {problem}", err=True)
        fail(problems[-1])
    return eventloop.run(serve(config, chosen))


@click.command("invite-url", help="print the link that adds the Discord bot to a server")
@click.option("--client-id", default=None, help="application id (default: from DISCORD_BOT_TOKEN)")
@global_options
@click.pass_obj
def invite_url(state: State, client_id: str | None) -> int:
    return state.run(lambda config: _invite(config, client_id))


def _invite(config: LoadedConfig, client_id: str | None) -> int:
    from bot.platforms import InvitePlatform, load

    discord = load("discord")  # discord.py loads only when asked for
    assert isinstance(discord, InvitePlatform)
    return discord.invite(config, client_id)
