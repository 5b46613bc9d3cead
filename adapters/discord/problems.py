"""What went wrong with Discord, in words that name the fix (a permission, a setting, the token)."""

from __future__ import annotations

import asyncio

import aiohttp
import discord

PORTAL = "Developer Portal (https://discord.com/developers/applications) → your application"
# What a call to Discord's REST API can raise: its answer, or no answer (network, timeout).
SEND_ERRORS = (discord.DiscordException, aiohttp.ClientError, OSError, asyncio.TimeoutError)


def send_problem(exc: BaseException) -> str:
    """A failed send, with the fix when it is a permission."""
    if isinstance(exc, discord.Forbidden):
        return (
            f"{exc} — give the bot View Channel, Send Messages and Send Messages in Threads in that channel"
            " (`supportbot invite-url` prints an invite with all it needs)"
        )
    return str(exc) or type(exc).__name__


def gateway_problem(error: BaseException | None, gateway_url: str) -> str:
    """What went wrong on the gateway, naming the fix."""
    if isinstance(error, discord.PrivilegedIntentsRequired):
        return (
            "Discord: the message_content intent is not enabled for this application. Turn on Message"
            f" Content Intent in {PORTAL} → Bot → Privileged Gateway Intents, or set"
            " discord.message_content_intent = false"
        )
    if isinstance(error, discord.ConnectionClosed) and error.code == 4004:
        return (
            "Discord: the gateway refused the bot token."
            f" Put a current token in DISCORD_BOT_TOKEN ({PORTAL} → Bot)"
        )
    if isinstance(error, discord.ConnectionClosed):
        return (
            f"Discord: the gateway closed the connection (code {error.code}: {error.reason or 'no reason'})"
        )
    if error is None:
        return f"Discord: the connection to {gateway_url} ended"
    return (
        f"Discord: cannot connect to the gateway at {gateway_url}: {error!r}"
        " (check discord.gateway_url or DISCORD_GATEWAY_URL)"
    )
