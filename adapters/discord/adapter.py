"""The Discord adapter: DMs and mentions → IncomingMessage → manager → streamed, split Discord messages.

A DM is answered in the DM. A mention in a server channel is answered in a thread started from it
(discord.mention_mode = "thread"; the thread shares the message's id, so the conversation key is the
same before and after) or as a reply. Later messages in such a thread are answered on mention, or
without one when the privileged message_content intent is enabled.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import AsyncExitStack, aclosing, suppress
from typing import Any

import aiohttp
import discord
import yarl

from adapters.discord.cards import RateButton, StaffButton
from adapters.discord.client import PLATFORM, Interactions, ShardedSupportClient, SupportClient, reply_view
from adapters.discord.handoff import DiscordHandoff
from adapters.discord.learned import LearnedButton
from adapters.discord.problems import PORTAL, SEND_ERRORS, gateway_problem, send_problem
from adapters.discord.readback import ReadBack, ToAnswer
from adapters.discord.routing import (
    Destination,
    incoming_message,
    thread_name,
    with_attachments,
    without_mention,
)
from adapters.discord.shards import describe, shard_locks
from adapters.discord.stream import DiscordSurface, Handle
from bot.events import Accepted, IncomingMessage, ReplyDone, TextDelta, ThreadKey
from bot.platforms import AdapterStartError
from bot.reply.stream import ReplyStream
from bot.reply.timing import AnswerClock
from bot.service import Lead, Received, SupportService
from bot.settings import LoadedConfig

log = logging.getLogger(__name__)

DISCORD_GATEWAY = "wss://gateway.discord.gg/"  # discord.py's own default, for gateway_url = ""
ANSWERED_TYPES = (discord.MessageType.default, discord.MessageType.reply)
TYPING_REFRESH_S = 8.0  # one typing call shows the indicator for 10 s


class DiscordAdapter:
    """Connects with discord.py, answers DMs and mentions through the manager, serves commands and buttons."""

    platform = PLATFORM

    def __init__(
        self,
        service: SupportService,
        config: LoadedConfig,
        *,
        ready_timeout_s: float = 60.0,
        guild_ready_timeout_s: float = 2.0,
        defer_after_s: float = 2.0,
        drain_timeout_s: float = 10.0,
        typing_refresh_s: float = TYPING_REFRESH_S,
        on_lost: Callable[[str], None] | None = None,
    ) -> None:
        """`on_lost(problem)` is called if the gateway connection ends for good after start
        (discord.py gave up reconnecting); `supportbot run` then stops so a supervisor restarts it."""
        self._service = service
        self._config = config
        self._on_lost = on_lost
        self._settings = config.settings.discord
        self._interactions = Interactions(service, defer_after_s=defer_after_s)
        self._ready_timeout = ready_timeout_s
        self._guild_ready_timeout = guild_ready_timeout_s  # discord.py waits this long after the last guild
        self._drain_timeout = drain_timeout_s
        self._typing_refresh = typing_refresh_s
        self._client: SupportClient | None = None
        self._handoff: DiscordHandoff | None = None
        self._gateway: asyncio.Task[None] | None = None
        self._inflight: set[asyncio.Task[Any]] = set()
        self._closing = False
        self._held = AsyncExitStack()  # this process's shards, in the shared database
        self._shards_held: Lead | None = None
        self._read_back = ReadBack(
            service,
            shard_count=self._settings.shard_count,
            recover_minutes=config.settings.bot.recover_minutes,
            accept=self._accept,
            answer=self._answer_in_turn,
        )

    # -- lifecycle ---------------------------------------------------------------------------------

    async def start(self) -> None:
        """Log in, sync the slash commands and connect; return once the gateway said READY."""
        token = self._config.secrets.discord_bot_token
        if token is None:
            raise AdapterStartError(f"Discord: DISCORD_BOT_TOKEN is not set ({PORTAL} → Bot → Reset Token)")
        guild_ids = self._guild_ids()
        api_url, gateway_url = self._apply_urls()
        intents = discord.Intents.none()
        intents.guilds = True
        intents.guild_messages = True
        intents.dm_messages = True
        intents.message_content = self._settings.message_content_intent
        client = self._new_client(intents)
        client.add_dynamic_items(StaffButton, RateButton, LearnedButton)
        shards = self._settings.shards()
        # A session's start is taken at its READY (dispatched before any of its messages); the
        # backfill, a moment later, reads from the last message stored before it.
        if shards:

            async def on_shard_connect(shard_id: int) -> None:
                await self._read_back.session_began(shard_id)

            async def on_shard_ready(shard_id: int) -> None:  # a new session of one shard, not a RESUME
                self._read_back.after_session([shard_id])

            client.event(on_shard_connect)
            client.event(on_shard_ready)
        else:

            async def on_connect() -> None:
                await self._read_back.session_began(0)

            async def on_ready() -> None:  # each new gateway session (IDENTIFY), never after a RESUME
                self._read_back.after_session([0])

            client.event(on_connect)
            client.event(on_ready)
        self._client = self._read_back.client = client
        self._handoff = DiscordHandoff(service=self._service, config=self._config, client=client)
        try:
            await self._login(client, token.get_secret_value(), api_url)
            await self._hold_shards(client)
            await self._sync_commands(client, guild_ids)
            await self._connect(client, gateway_url)
        except BaseException:
            await self._shutdown()
            raise
        self._service.register(self._handoff)
        staff = self._config.settings.escalation.staff_channel
        if staff.platform == PLATFORM and not self._settings.message_content_intent:
            log.warning(
                "Discord: the staff channel is on Discord but discord.message_content_intent is off, so staff"
                " replies in handoff threads can't be read or relayed to users in DMs. Turn on Message"
                " Content Intent (%s → Bot) and set discord.message_content_intent = true.",
                PORTAL,
            )

    async def connected(self) -> bool:
        """The gateway said READY and its WebSockets (one per shard) are open (False while
        discord.py reconnects)."""
        client, gateway = self._client, self._gateway
        if client is None or gateway is None or gateway.done() or client.is_closed() or not client.is_ready():
            return False
        if self._shards_held is not None and self._shards_held.lost.is_set():
            return False  # the database let go of this process's shards: another may run them now
        if isinstance(client, ShardedSupportClient):
            shards = client.shards
            return len(shards) == len(self._settings.shards()) and not any(
                s.is_closed() for s in shards.values()
            )
        ws = client.ws
        return ws is not None and ws.open

    def _new_client(self, intents: discord.Intents) -> SupportClient:
        options: dict[str, Any] = {
            "intents": intents,
            "interactions": self._interactions,
            "on_message": self._on_message,
            "guild_ready_timeout": self._guild_ready_timeout,
        }
        if not self._settings.shard_count:
            return SupportClient(**options)
        shards = self._settings.shards()
        return ShardedSupportClient(**options, shard_count=self._settings.shard_count, shard_ids=shards)

    async def _hold_shards(self, client: SupportClient) -> None:
        """Take this process's shards in the shared database (a no-op on SQLite, one process a file),
        or refuse to start: two processes on one shard would both receive its events."""
        bot_id = client.user.id if client.user is not None else None
        held = await self._held.enter_async_context(
            self._service.exclusive(*shard_locks(self._settings, bot_id))
        )
        self._shards_held = held
        if not held:
            raise AdapterStartError(
                f"Discord: another instance on this database already runs {describe(self._settings)}"
                " (or the DMs, which arrive on shard 0). Give each instance its own discord.shard_ids,"
                " with the same discord.shard_count, and shard 0 to exactly one."
            )

    async def close(self) -> None:
        """Let answers in progress finish (briefly), then disconnect."""
        self._closing = True
        self._read_back.cancel()
        if self._inflight:
            await asyncio.wait(set(self._inflight), timeout=self._drain_timeout)
        await self._service.close()  # cards and notes still being posted need the client
        await self._shutdown()

    def _guild_ids(self) -> list[int]:
        bad = [g for g in self._settings.guild_ids if not g.strip().isdigit()]
        if bad:
            raise AdapterStartError(f"settings: discord.guild_ids: {bad[0]!r} is not a server id (a number)")
        return [int(g) for g in self._settings.guild_ids]

    def _apply_urls(self) -> tuple[str, str]:
        """Point discord.py at the REST and gateway URLs (env wins over settings): proxies and tests."""
        secrets = self._config.secrets
        api_url = (secrets.discord_api_url or self._settings.api_url).rstrip("/")
        gateway_url = secrets.discord_gateway_url or self._settings.gateway_url or DISCORD_GATEWAY
        discord.http.Route.BASE = api_url
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)
        return api_url, gateway_url

    async def _login(self, client: SupportClient, token: str, api_url: str) -> None:
        try:
            await client.login(token)
        except discord.LoginFailure:
            raise AdapterStartError(
                f"Discord: the bot token was refused. Put a current token in DISCORD_BOT_TOKEN ({PORTAL}"
                " → Bot → Reset Token)."
            ) from None
        except (discord.HTTPException, aiohttp.ClientError, OSError) as exc:
            raise AdapterStartError(
                f"Discord: cannot log in through {api_url}: {exc} (check discord.api_url or DISCORD_API_URL,"
                " and the network)"
            ) from None

    async def _sync_commands(self, client: SupportClient, guild_ids: list[int]) -> None:
        """Register /escalate, /resolve, /help: in the configured servers (instant), else globally."""
        tree = client.tree
        try:
            if not guild_ids:
                await tree.sync()
                return
            guilds = [discord.Object(g) for g in guild_ids]
            for guild in guilds:
                tree.copy_global_to(guild=guild)
            tree.clear_commands(guild=None)
            for guild in guilds:
                await tree.sync(guild=guild)
            await tree.sync()  # drop global copies an earlier run without guild_ids registered
        except discord.Forbidden as exc:
            log.error(
                "Discord: cannot register slash commands (%s). Re-invite the bot with the"
                " applications.commands scope (`supportbot invite-url` prints the link)"
                " and check discord.guild_ids.",
                exc,
            )
        except discord.HTTPException as exc:
            log.error("Discord: registering slash commands failed: %s", exc)

    async def _connect(self, client: SupportClient, gateway_url: str) -> None:
        gateway = asyncio.create_task(client.connect(reconnect=True), name="discord-gateway")
        self._gateway = gateway
        ready = asyncio.create_task(client.wait_until_ready())
        try:
            await asyncio.wait(
                {gateway, ready}, timeout=self._ready_timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            ready.cancel()
        if gateway.done():
            error = None if gateway.cancelled() else gateway.exception()
            raise AdapterStartError(gateway_problem(error, gateway_url))
        if not client.is_ready():
            raise AdapterStartError(
                f"Discord: no READY from the gateway at {gateway_url} within {self._ready_timeout:.0f} s"
                " (check discord.gateway_url or DISCORD_GATEWAY_URL, and the network)"
            )
        gateway.add_done_callback(self._gateway_ended)

    def _gateway_ended(self, task: asyncio.Task[None]) -> None:
        if self._closing or task.cancelled():
            return
        problem = gateway_problem(task.exception(), "the gateway")
        log.error("%s. The bot is offline on Discord until restarted.", problem)
        if self._on_lost is not None:
            self._on_lost(problem)

    async def _shutdown(self) -> None:
        self._closing = True
        if self._client is not None:
            await self._client.close()
        if self._gateway is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._gateway), timeout=5)
            except Exception:
                self._gateway.cancel()
                with suppress(asyncio.CancelledError, Exception):
                    await self._gateway
        await self._held.aclose()  # disconnected: another instance may take the shards

    # -- messages ----------------------------------------------------------------------------------

    async def _on_message(self, message: discord.Message) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._inflight.add(task)
        try:
            await self._answer_in_turn(await self._accept(message))
        finally:
            if task is not None:
                self._inflight.discard(task)

    async def _accept(self, message: discord.Message) -> list[ToAnswer]:
        """The message stored (first: before the thread, the typing sign, anything that can fail or
        wait) with where its answer goes, after what a DM begun while the bot was away held before
        it; none for a message the bot stays out of or a duplicate (a replayed gateway event, or
        read back)."""
        if message.author.bot or message.type not in ANSWERED_TYPES or self._client is None:
            return []  # other bots, itself, webhooks, system messages (thread created, pins, …)
        if self._handoff is not None and await self._handoff.staff_message(message):
            return []  # staff under a handoff card: relayed, never answered by the bot
        routed = await self._route(self._client, message)
        if routed is None:
            return []
        earlier = await self._read_back.new_dm(message, routed[0].key) if routed[0].is_dm else []
        received = await self._service.receive(routed[0])
        return earlier if received is None else [*earlier, (received, *routed[1:])]

    async def _answer_in_turn(self, stored: list[ToAnswer]) -> None:
        """Answer stored messages: each conversation's in order, the conversations side by side."""
        client = self._client
        if client is None or not stored:
            return
        turns: dict[ThreadKey, list[ToAnswer]] = {}
        for item in stored:
            turns.setdefault(item[0].msg.key, []).append(item)

        async def in_order(items: list[ToAnswer]) -> None:
            for received, where, name in items:
                await self._answer(client, received, where, name)

        if len(turns) == 1:  # a live message: no task of its own needed
            await in_order(stored)
        else:
            await asyncio.gather(*(in_order(items) for items in turns.values()))

    async def _route(
        self, client: SupportClient, message: discord.Message
    ) -> tuple[IncomingMessage, Destination, str] | None:
        """Which conversation a message belongs to and where its answer goes; None to stay out of it."""
        channel = message.channel
        if isinstance(channel, discord.DMChannel):
            key = ThreadKey(PLATFORM, "", str(channel.id), str(channel.id))
            where = Destination(channel, thread_from=None, reply_to=None)
            return (
                incoming_message(
                    message, key, with_attachments(message.content.strip(), message), is_dm=True
                ),
                where,
                "",
            )
        guild_id = message.guild.id if message.guild else getattr(channel, "guild_id", None)
        if guild_id is None or (self._settings.guild_ids and str(guild_id) not in self._settings.guild_ids):
            return None
        mentioned, text = without_mention(message, client)
        text = with_attachments(text, message)
        if isinstance(channel, discord.PartialMessageable):  # not cached: ask Discord what it is
            try:
                fetched = await client.fetch_channel(channel.id)
            except SEND_ERRORS as exc:
                log.warning(
                    "Discord: cannot read channel %s, message %s left unanswered: %s",
                    channel.id,
                    message.id,
                    exc,
                )
                return None
            if not isinstance(fetched, discord.abc.Messageable):
                return None
            channel = fetched
        if isinstance(channel, discord.Thread):
            key = ThreadKey(PLATFORM, str(guild_id), str(channel.parent_id), str(channel.id))
            if not mentioned and not await self._follows(key, text):
                return None
            where = Destination(channel, thread_from=None, reply_to=None)
            return incoming_message(message, key, text, is_dm=False), where, ""
        if not mentioned:
            return None
        # The conversation is keyed by the question's id, which a thread started from it shares.
        key = ThreadKey(PLATFORM, str(guild_id), str(channel.id), str(message.id))
        in_thread = self._settings.mention_mode == "thread" and isinstance(channel, discord.TextChannel)
        where = Destination(
            channel, thread_from=message if in_thread else None, reply_to=None if in_thread else message
        )
        return incoming_message(message, key, text, is_dm=False), where, thread_name(text, message.author)

    async def _follows(self, key: ThreadKey, text: str) -> bool:
        """Answer an un-mentioned thread message? Only with message content, in a conversation we're in."""
        if not (self._settings.message_content_intent and text):
            return False
        return await self._service.takes_part(key)

    async def _answer(
        self, client: SupportClient, received: Received, where: Destination, thread_name: str
    ) -> None:
        """Stream the core's reply to a stored message into Discord; mark it delivered or failed.
        Each part's id is recorded as soon as it is posted, so a restart finishes the answer."""
        incoming = received.msg
        accepted = asyncio.Event()  # set when the core will reply: nobody from staff on it

        async def open_when_accepted() -> discord.abc.Messageable:
            await accepted.wait()
            return await where.open(client, thread_name)

        opening = asyncio.create_task(open_when_accepted())
        clock = AnswerClock(incoming.received_at)
        typing = asyncio.create_task(_keep_typing(opening, self._typing_refresh, clock.sign))
        surface = DiscordSurface(
            lambda: asyncio.shield(opening),
            edit_interval_s=self._settings.edit_interval_s,
            reference=where.take_reference,
            nonce=incoming.message_id,
        )

        async def shown(messages: list[Handle]) -> None:
            await self._service.shown(received, [str(m.id) for m in messages])

        stream: ReplyStream[Handle] = ReplyStream(surface, on_posted=shown)
        text = ""
        try:
            async with aclosing(self._service.answer(received)) as events:
                async for event in events:
                    if isinstance(event, Accepted):
                        accepted.set()
                    elif isinstance(event, TextDelta):
                        text += event.text
                        await stream.update(text.lstrip())
                        if stream.visible:
                            clock.first_token()
                            typing.cancel()
                    elif isinstance(event, ReplyDone):
                        typing.cancel()
                        surface.view = reply_view(event.reply_id, event.status)
                        # Still inside the stream, so the thread's next answer waits for this one.
                        await self._deliver(stream, event, incoming, clock, decorate=surface.view is not None)
        finally:
            typing.cancel()
            if not opening.done():
                opening.cancel()
            elif not opening.cancelled() and opening.exception() is not None:
                log.debug("Discord: opening %s failed: %s", incoming.key.thread, opening.exception())

    async def _deliver(
        self,
        stream: ReplyStream[Handle],
        done: ReplyDone,
        incoming: IncomingMessage,
        clock: AnswerClock,
        *,
        decorate: bool,
    ) -> None:
        try:
            *_, last = await stream.finish(done.text, decorate=decorate)
            clock.complete()
        except SEND_ERRORS as exc:
            problem = send_problem(exc)
            log.error(
                "Discord: the answer to message %s in channel %s was not delivered: %s",
                incoming.message_id,
                incoming.key.thread,
                problem,
            )
            if done.reply_id is not None:
                await self._service.delivery_failed(done.reply_id, problem)
            return
        if done.reply_id is not None:
            await self._service.delivered(done.reply_id, str(last.id), clock.timings())


async def _keep_typing(
    opening: asyncio.Task[discord.abc.Messageable], refresh_s: float, shown: Callable[[], None]
) -> None:
    """Show "typing…" where the answer will appear until it is visible (cancelled then), renewed
    every `refresh_s` however long the model takes, its retries included; `shown()` once it is up."""
    try:
        channel = await asyncio.shield(opening)
        while True:
            await channel.typing()
            shown()
            await asyncio.sleep(refresh_s)
    except SEND_ERRORS as exc:
        log.debug("Discord: typing indicator failed: %s", exc)
