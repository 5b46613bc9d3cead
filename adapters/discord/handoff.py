"""Discord's side of the human handoff: the core's PlatformPort, the card and rating buttons, staff replies.

The card goes to the staff channel with Claim/Resolve and the staff roles mentioned; a thread started from
it is the staff thread, where DM conversations are relayed both ways. Reading staff replies there needs
the privileged message_content intent.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Literal

import discord

from adapters.discord.cards import card_embed, card_view, cut, rating_view
from adapters.discord.client import PLATFORM, SupportClient, reply_view
from adapters.discord.learned import post_proposal
from adapters.discord.routing import Destination, thread_name, with_attachments, without_mention
from adapters.discord.stream import MESSAGE_LIMIT, DiscordSurface, Handle
from bot.events import ReplyDone, ThreadKey
from bot.handoff.ports import Delivery, LearnedProposal, StaffCard
from bot.reply.split import split_message
from bot.reply.stream import ReplyStream
from bot.service import Person, SupportService
from bot.settings import LoadedConfig

log = logging.getLogger(__name__)

UNKNOWN_CHANNEL = 10003  # Discord error code: no channel with that id
THREAD_ARCHIVE_MINUTES: Literal[10080] = 10080  # a week: an escalation may wait over a weekend
THREAD_NAME = 100


class DiscordHandoff:
    """Posts cards, notes and relayed messages in Discord; carries staff replies under cards to the core."""

    platform = PLATFORM

    def __init__(self, *, service: SupportService, config: LoadedConfig, client: SupportClient) -> None:
        self._service = service
        self._client = client
        self._settings = config.settings.escalation
        self._reads_content = config.settings.discord.message_content_intent
        self._mention_mode = config.settings.discord.mention_mode
        self._warned = False

    # -- PlatformPort ------------------------------------------------------------------------------

    def is_private(self, key: ThreadKey) -> bool:
        return not key.workspace  # DMs have no guild

    async def conversation_link(self, key: ThreadKey) -> str | None:
        if not key.workspace:
            return f"https://discord.com/channels/@me/{key.channel}"
        # A conversation's thread shares the id of the question it started from, in the parent channel.
        return f"https://discord.com/channels/{key.workspace}/{key.channel}/{key.thread}"

    def started_at(self, key: ThreadKey) -> str:
        """A Discord timestamp of the conversation's first message (its id is a snowflake)."""
        if not key.thread.isdigit():
            return "earlier"
        return f"<t:{discord.utils.snowflake_time(int(key.thread)).timestamp():.0f}:f>"

    async def post_staff_card(self, channel: str, card: StaffCard) -> str:
        target = await self._staff_channel(channel)
        roles = [r for r in self._settings.staff_role_ids if r.isdigit()]
        mention = " ".join(f"<@&{r}>" for r in roles)
        who = discord.utils.escape_markdown(card.user_name)
        message = await target.send(
            f"{mention} New escalation #{card.escalation_id} from **{who}**".strip(),
            embed=card_embed(card),
            view=card_view(card.escalation_id),
            allowed_mentions=discord.AllowedMentions(
                everyone=False, users=False, roles=[discord.Object(int(r)) for r in roles]
            ),
        )
        try:
            thread = await message.create_thread(
                name=cut(f"Escalation #{card.escalation_id}: {card.user_name}", THREAD_NAME),
                auto_archive_duration=THREAD_ARCHIVE_MINUTES,
            )
        except discord.HTTPException as exc:
            log.error(
                "Discord: cannot start the thread under handoff card %s in channel %s (%s); give the bot"
                " Create Public Threads and Send Messages in Threads there. Notes and the relay need it.",
                message.id,
                channel,
                exc,
            )
            return str(message.id)
        return str(thread.id)

    async def post_staff_note(self, channel: str, thread: str, text: str) -> None:
        target = self._client.get_partial_messageable(int(thread))
        for part in split_message(text, MESSAGE_LIMIT):
            await target.send(part)

    async def post_learned_proposal(self, channel: str, thread: str, proposal: LearnedProposal) -> None:
        await post_proposal(self._client.get_partial_messageable(int(thread)), proposal)

    async def send_to_user(self, key: ThreadKey, text: str, *, rate_escalation: int | None = None) -> None:
        view = rating_view(rate_escalation) if rate_escalation is not None else None
        await self._post(key, text, view)

    async def send_answer(self, key: ThreadKey, done: ReplyDone, delivery: Delivery | None = None) -> str:
        return await self._post(key, done.text, reply_view(done.reply_id, done.status), delivery)

    async def _post(
        self, key: ThreadKey, text: str, view: discord.ui.View | None, delivery: Delivery | None = None
    ) -> str:
        try:
            return await self._send(int(key.thread), text, view, delivery=delivery)
        except discord.NotFound as exc:
            if key.thread == key.channel or exc.code != UNKNOWN_CHANNEL:
                raise
        # The conversation is a mention's, and no thread was started from it: answered inline
        # (mention_mode = "reply"), or stopped between storing the mention and starting its thread.
        if self._mention_mode == "thread":
            thread = await self._start_thread(key)
            if thread is not None:
                return await self._send(thread.id, text, view, delivery=delivery)
        reference = discord.MessageReference(
            message_id=int(key.thread), channel_id=int(key.channel), fail_if_not_exists=False
        )
        return await self._send(int(key.channel), text, view, reference, delivery)

    async def _start_thread(self, key: ThreadKey) -> discord.Thread | None:
        """The thread a live answer would have started from the conversation's question; None where
        none can be (the question deleted, threads forbidden there: the answer goes inline)."""
        client = self._client
        channel = client.get_channel(int(key.channel)) or await client.fetch_channel(int(key.channel))
        if not isinstance(channel, discord.TextChannel):
            return None
        try:
            asked = await channel.fetch_message(int(key.thread))
        except discord.NotFound:
            return None
        _, text = without_mention(asked, client)
        where = Destination(channel, thread_from=asked, reply_to=None)
        opened = await where.open(client, thread_name(text, asked.author))
        return opened if isinstance(opened, discord.Thread) else None

    async def _send(
        self,
        channel_id: int,
        text: str,
        view: discord.ui.View | None,
        reference: discord.MessageReference | None = None,
        delivery: Delivery | None = None,
    ) -> str:
        """Post `text` into a user's conversation through the reply pipeline, like a live answer
        (split at Discord's limit, no link previews, buttons under the last piece); returns the last
        message's id. With `delivery`, the parts already shown are edited (see DiscordSurface)."""
        target = self._client.get_partial_messageable(channel_id)
        shown: list[Handle] = [target.get_partial_message(int(i)) for i in delivery.shown] if delivery else []
        references = [] if shown else [reference]

        async def channel() -> discord.abc.Messageable:
            return target

        async def noted(messages: list[Handle]) -> None:
            if delivery is not None and delivery.note is not None:
                await delivery.note([str(m.id) for m in messages])

        surface = DiscordSurface(
            channel,
            edit_interval_s=0.0,
            reference=lambda: references.pop() if references else None,
            view=view,
            nonce=delivery.question_id if delivery else None,
            posted=len(shown),
        )
        *_, last = await ReplyStream(surface, shown=shown, on_posted=noted).finish(text)
        return str(last.id)

    async def _staff_channel(self, channel: str) -> discord.TextChannel:
        found: Any = self._client.get_channel(int(channel)) if channel.isdigit() else None
        if found is None and channel.isdigit():
            found = await self._client.fetch_channel(int(channel))
        if not isinstance(found, discord.TextChannel):
            raise ValueError(
                f"escalation.staff_channel.channel = {channel!r} is not a text channel the bot can see"
            )
        return found

    # -- staff threads -----------------------------------------------------------------------------

    async def staff_message(self, message: discord.Message) -> bool:
        """A message in a handoff card's thread: relayed to the user in a DM. True if it was one (the bot
        stays out of card threads)."""
        channel = message.channel
        if message.guild is None:
            return False
        if isinstance(channel, discord.Thread):
            parent: str | None = str(channel.parent_id)
        elif isinstance(channel, discord.PartialMessageable):  # an uncached thread: its parent is unknown
            parent = None
        else:
            return False
        thread = str(channel.id)
        if not await self._service.is_card_thread(PLATFORM, thread, parent):
            return False
        me = self._client.user
        text = re.sub(rf"<@!?{me.id}>", "", message.content).strip() if me else message.content.strip()
        text = with_attachments(text, message)
        if not text:
            self._warn_no_content(thread)
            return True
        roles = (
            tuple(str(r.id) for r in message.author.roles)
            if isinstance(message.author, discord.Member)
            else ()
        )
        person = Person(str(message.author.id), message.author.display_name, roles)
        note = await self._service.staff_wrote(PLATFORM, thread, person, text)
        if note is not None:  # not staff: told privately (a DM), since Discord has no ephemeral messages here
            try:
                await message.author.send(note)
            except discord.HTTPException as exc:
                log.info(
                    "Discord: could not tell %s why their message was not relayed: %s", message.author.id, exc
                )
        return True

    def _warn_no_content(self, thread: str) -> None:
        if self._reads_content or self._warned:
            return
        self._warned = True
        log.warning(
            "Discord: a staff reply in handoff thread %s arrived without its text, so it can't be relayed."
            " Turn on Message Content Intent (Developer Portal → Bot → Privileged Gateway Intents) and set"
            " discord.message_content_intent = true.",
            thread,
        )
