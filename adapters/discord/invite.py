"""The OAuth2 URL that adds the bot to a server with exactly the scopes and permissions the adapter uses."""

from __future__ import annotations

import base64
import binascii
import sys

import discord
from pydantic import SecretStr

SCOPES = ("bot", "applications.commands")  # the bot user, and its slash commands


def needed_permissions() -> discord.Permissions:
    """What the adapter does in a server: read the channel, answer (inline or in a thread it starts)."""
    return discord.Permissions(
        view_channel=True,  # see the channels it is mentioned in
        send_messages=True,  # answer
        send_messages_in_threads=True,  # answer and follow up inside threads
        create_public_threads=True,  # discord.mention_mode = "thread"
        read_message_history=True,  # reply to a message (discord.mention_mode = "reply")
    )


def application_id_from_token(token: str) -> str:
    """A bot token starts with the base64 of the bot's user id, which is also its application id."""
    first = token.strip().split(".", 1)[0]
    try:
        decoded = base64.urlsafe_b64decode(first + "=" * (-len(first) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError):
        decoded = ""
    if not decoded.isdigit():
        raise ValueError(
            "DISCORD_BOT_TOKEN does not look like a bot token; pass --client-id with the application id"
            " (Developer Portal → your application → General Information → Application ID)"
        )
    return decoded


def invite_url(client_id: str | None, token: str | None) -> str:
    """The invite URL for `client_id`, or for the application the token belongs to."""
    if client_id is None:
        if token is None:
            raise ValueError(
                "set DISCORD_BOT_TOKEN or pass --client-id with the application id"
                " (Developer Portal → your application → General Information → Application ID)"
            )
        client_id = application_id_from_token(token)
    if not client_id.isdigit():
        raise ValueError(f"--client-id {client_id!r}: an application id is a number")
    return discord.utils.oauth_url(client_id, permissions=needed_permissions(), scopes=SCOPES)


def invite_command(client_id: str | None, token: SecretStr | None) -> int:
    """`supportbot invite-url`: print the URL (0), or what is missing (2)."""
    try:
        print(invite_url(client_id, token.get_secret_value() if token is not None else None))
    except ValueError as exc:
        print(f"supportbot: {exc}", file=sys.stderr)
        return 2
    return 0
