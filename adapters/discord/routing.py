"""Where a Discord message belongs: its conversation key, its text without the bot's mention, and
where the answer goes (the DM, a thread started from the question, or a reply to it)."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime

import discord

from bot.events import IncomingMessage, ThreadKey

log = logging.getLogger(__name__)

THREAD_EXISTS = 160004  # Discord error code: a thread was already started from this message


class Destination:
    """Where one answer goes: the channel it came from, a thread started from the question, or a reply."""

    def __init__(
        self,
        channel: discord.abc.Messageable,
        *,
        thread_from: discord.Message | None,
        reply_to: discord.Message | None,
    ) -> None:
        self._channel = channel
        self._thread_from = thread_from
        self._reply_to = reply_to

    async def open(self, client: discord.Client, thread_name: str) -> discord.abc.Messageable:
        """The channel to answer in, starting the thread first when one is wanted."""
        origin = self._thread_from
        if origin is None:
            return self._channel
        try:
            return await origin.create_thread(name=thread_name, auto_archive_duration=1440)
        except discord.Forbidden as exc:
            log.error(
                "Discord: cannot start a thread in channel %s (%s); answering inline instead. Give the bot"
                " Create Public Threads and Send Messages in Threads there,"
                ' or set discord.mention_mode = "reply".',
                origin.channel.id,
                exc,
            )
            self._reply_to = origin
            return self._channel
        except discord.HTTPException as exc:
            if exc.code != THREAD_EXISTS:
                raise
            existing = await client.fetch_channel(origin.id)  # the thread shares the message's id
            if not isinstance(existing, discord.abc.Messageable):
                raise
            return existing

    def take_reference(self) -> discord.Message | None:
        """The message the first post replies to (only the first)."""
        reference, self._reply_to = self._reply_to, None
        return reference


def incoming_message(message: discord.Message, key: ThreadKey, text: str, *, is_dm: bool) -> IncomingMessage:
    author = message.author
    return IncomingMessage(
        key=key,
        message_id=str(message.id),
        user_id=str(message.author.id),
        user_name=message.author.display_name,
        text=text,
        is_dm=is_dm,
        received_at=datetime.now(UTC),
        raw={"jump_url": message.jump_url, "channel_id": str(message.channel.id)},
        roles=tuple(str(r.id) for r in author.roles) if isinstance(author, discord.Member) else None,
    )


def without_mention(message: discord.Message, client: discord.Client) -> tuple[bool, str]:
    """Whether the bot (or its role) is mentioned, and the text without those mentions."""
    me = client.user
    if me is None:
        return False, message.content.strip()
    patterns = [rf"<@!?{me.id}>"]
    mentioned = me.id in message.raw_mentions
    role = message.guild.self_role if message.guild else None
    if role is not None and role.id in message.raw_role_mentions:
        mentioned = True
        patterns.append(rf"<@&{role.id}>")
    return mentioned, re.sub("|".join(patterns), "", message.content).strip()


def thread_name(text: str, author: discord.abc.User) -> str:
    first_line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    name = first_line or f"Question from {author.display_name}"
    return name if len(name) <= 90 else name[:89] + "…"


def with_attachments(text: str, message: discord.Message) -> str:
    """The text followed by the attachments' URLs, so relayed messages keep their files."""
    return "\n".join(part for part in (text, *(a.url for a in message.attachments)) if part)
