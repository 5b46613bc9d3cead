"""The Slack adapter: slack-bolt's AsyncApp over Socket Mode or the HTTP Events API, into the manager.

Bolt runs the listeners before it acks (`process_before_response`, over HTTP and Socket Mode alike),
and a listener does only what must come first: decide whether to answer and store the message. So
Slack hears the 200 only once the message is in the database; the name lookup, the sign and the
answer run after, in tasks this adapter tracks (and drains on close). A retry or duplicate delivery
of a message is dropped here (recently seen) and by the store (stored).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from contextlib import aclosing
from datetime import UTC, datetime
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.api import api_url, describe, error_code, make_client, web_session
from adapters.slack.entry import SlackEntryPoints
from adapters.slack.handoff import SlackHandoff
from adapters.slack.http import FrontDoor
from adapters.slack.names import NameCache
from adapters.slack.payloads import (
    PLATFORM,
    Origin,
    answerable,
    clean_text,
    mentions,
    origin,
    readable,
    team_of,
    with_files,
)
from adapters.slack.reply import ReplyWriter, Sign, Writing
from adapters.slack.staff import StaffGroup
from bot.events import Accepted, IncomingMessage, ReplyDone, TextDelta
from bot.platforms import AdapterStartError, OpsEndpoint, OpsPage
from bot.reply.timing import AnswerClock
from bot.service import Received, SupportService
from bot.settings import LoadedConfig

log = logging.getLogger(__name__)

SEEN_IDS = 10_000  # recent message ids remembered to skip retries before any Slack call
DRAIN_S = 10.0  # how long close() lets answers in flight finish
CONNECT_S = 30.0  # how long start() waits for the Socket Mode WebSocket


def _bolt_logger() -> logging.Logger:
    """Bolt's logger, minus its warning that SLACK_BOT_TOKEN (read from the env) yields to our client."""
    logger = logging.getLogger("slack_bolt.supportbot")
    skipped = warning_client_prioritized_and_token_skipped()
    if not logger.filters:
        logger.addFilter(lambda record: record.getMessage() != skipped)
    return logger


def _usable(event: dict[str, Any]) -> bool:
    """An answerable message whose ids are text (Socket Mode payloads skip the HTTP front door)."""
    ids = (event.get("channel"), event.get("ts"), event.get("user"))
    optional = (event.get("thread_ts"), event.get("text"), event.get("channel_type"))
    return (
        all(isinstance(value, str) and value for value in ids)
        and all(value is None or isinstance(value, str) for value in optional)
        and answerable(event)
    )


def _page(endpoint: OpsEndpoint) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle(_: web.Request) -> web.Response:
        page = await endpoint()
        return web.Response(status=page.status, body=page.body, headers={"Content-Type": page.content_type})

    return handle


class SlackAdapter:
    """Answers mentions (in threads), thread follow-ups and DMs; wires the escalation entry points."""

    platform = "slack"

    def __init__(
        self,
        service: SupportService,
        config: LoadedConfig,
        *,
        mode: str = "socket",
        host: str | None = None,
        port: int | None = None,
        ops: Mapping[str, OpsEndpoint] | None = None,
    ) -> None:
        """`ops`: the core's ops endpoints (/healthz, /readyz, /metrics), answered on the HTTP port too."""
        settings = config.settings.slack
        self._ops = dict(ops or {})
        self._service = service
        self._config = config
        self._mode = mode
        self._host = host or settings.http_host
        self.port = settings.http_port if port is None else port  # the bound port once started (0 = any)
        self._client: AsyncWebClient | None = None
        self._session: aiohttp.ClientSession | None = None  # the Web API's connections
        self._bolt: AsyncApp | None = None
        self._runner: web.AppRunner | None = None
        self._socket: AsyncSocketModeHandler | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._bot_user_id: str | None = None
        self._writer: ReplyWriter | None = None
        self._names: NameCache | None = None
        self._handoff: SlackHandoff | None = None
        self._staff: StaffGroup | None = None

    async def start(self) -> None:
        """Check the token with auth.test, then serve; AdapterStartError names what to fix."""
        self._session = web_session()
        try:
            await self._start(self._session)
        except BaseException:
            await self._session.close()
            self._session = None
            raise

    async def _start(self, session: aiohttp.ClientSession) -> None:
        config = self._config
        try:
            client = make_client(config, session)
        except ValueError as exc:
            raise AdapterStartError(f"Slack: {exc}") from None
        try:
            auth = await client.auth_test()
        except SlackApiError as exc:
            raise AdapterStartError(describe("auth.test", exc)) from None
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise AdapterStartError(
                f"Slack: cannot reach the Web API at {api_url(config)} ({exc!r});"
                " check SLACK_API_URL / slack.api_url"
            ) from None
        self._client = client
        self._bot_user_id = auth.get("user_id")
        self._names = NameCache(client)
        staff = StaffGroup(client, config.settings.escalation.staff_group_id)
        self._staff = staff
        self._handoff = SlackHandoff(
            service=self._service,
            config=config,
            client=client,
            names=self._names,
            staff=staff,
            bot_user=self._bot_user_id,
        )
        self._writer = ReplyWriter(client, config.settings.slack)
        secret = config.secrets.slack_signing_secret
        bolt = AsyncApp(
            name="supportbot",
            client=client,
            signing_secret=secret.get_secret_value() if secret else "",
            logger=_bolt_logger(),
            request_verification_enabled=False,  # HTTP: the front door verifies the raw body first
            process_before_response=True,  # the ack waits for the listener: stored before Slack hears it
            # No listener takes the assistant's say/set_status or a function's token: not attached.
            attaching_conversation_kwargs_enabled=False,
            attaching_function_token_enabled=False,
        )
        bolt.event("app_mention")(self._on_mention)
        bolt.event("message")(self._on_message)
        SlackEntryPoints(self._service, client, self._names, staff, spawn=self._spawn).register(bolt)
        self._handoff.register(bolt)
        self._bolt = bolt
        if self._mode == "http":
            await self._serve_http(bolt)
        else:
            await self._connect_socket(bolt)
        self._service.register(self._handoff)
        log.info("Slack connected as %s in team %s (%s mode)", auth.get("user"), auth.get("team"), self._mode)

    async def connected(self) -> bool:
        """HTTP mode: listening; Socket Mode: the WebSocket is up (it reconnects by itself)."""
        if self._mode == "http":
            return self._runner is not None
        return self._socket is not None and bool(await self._socket.client.is_connected())

    async def close(self) -> None:
        """Stop receiving, let answers in flight finish (for a while), then cancel the rest."""
        if self._socket is not None:
            await self._socket.close_async()  # type: ignore[no-untyped-call]
            self._socket = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=DRAIN_S)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await self._service.close()  # cards and notes still being posted need the client
        if self._staff is not None:
            await self._staff.close()
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _serve_http(self, bolt: AsyncApp) -> None:
        secret = self._config.secrets.slack_signing_secret
        text = secret.get_secret_value() if secret else ""
        if not text.strip():
            log.warning("Slack HTTP mode: SLACK_SIGNING_SECRET is not set; every request is refused (401)")
        door = FrontDoor(SignatureVerifier(text) if text.strip() else None, bolt.async_dispatch)

        async def healthz() -> OpsPage:
            return OpsPage(200, "application/json", b'{"ok": true, "platform": "slack"}')

        web_app = web.Application()
        web_app.router.add_post("/slack/events", door.handle)
        for path, endpoint in ({"/healthz": healthz} | self._ops).items():
            web_app.router.add_get(path, _page(endpoint))
        runner = web.AppRunner(web_app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self._host, self.port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise AdapterStartError(
                f"Slack HTTP mode: cannot listen on {self._host}:{self.port} ({exc.strerror});"
                " choose another --port / slack.http_port"
            ) from None
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        paths = ", ".join(sorted({"/healthz", *self._ops}))
        log.info("Slack HTTP mode: POST /slack/events and GET %s on %s:%s", paths, self._host, self.port)

    async def _connect_socket(self, bolt: AsyncApp) -> None:
        """Check the app token with apps.connections.open first: the SDK's connect retries forever."""
        token = self._config.secrets.slack_app_token
        if token is None:
            raise AdapterStartError("Slack Socket Mode: SLACK_APP_TOKEN (xapp-…) is not set")
        assert self._client is not None
        try:
            opened = await self._client.apps_connections_open(app_token=token.get_secret_value())
        except SlackApiError as exc:
            raise AdapterStartError(
                f"Slack Socket Mode: apps.connections.open failed: {error_code(exc)}: set SLACK_APP_TOKEN"
                " to an app-level token (xapp-…) with the connections:write scope, and enable Socket Mode"
            ) from None
        handler = AsyncSocketModeHandler(bolt, token.get_secret_value())
        handler.client.wss_uri = str(opened["url"])
        try:
            await asyncio.wait_for(handler.connect_async(), CONNECT_S)  # type: ignore[no-untyped-call]
        except TimeoutError:
            await handler.close_async()  # type: ignore[no-untyped-call]
            raise AdapterStartError(
                f"Slack Socket Mode: no WebSocket connection within {CONNECT_S:.0f} s; check the network"
            ) from None
        self._socket = handler

    # Bolt listeners: Slack is acked when they return, so they store the message and leave the rest
    # (name, sign, answer) to a tracked task.

    async def _on_mention(self, event: dict[str, Any], body: dict[str, Any]) -> None:
        if _usable(event):
            await self._mentioned(origin(event, team_of(body), mention=True), event)

    async def _on_message(self, event: dict[str, Any], body: dict[str, Any]) -> None:
        if not _usable(event):
            return
        kind = event.get("channel_type")
        if kind == "im":
            await self._answer(origin(event, team_of(body), mention=False), event)
        elif kind in ("channel", "group") and event.get("thread_ts"):
            where = origin(event, team_of(body), mention=False)
            if self._service.in_staff_channel(PLATFORM, where.channel):
                await self._in_staff_channel(where, event)
            elif self._follows(event):
                await self._follow(where, event)

    def _follows(self, event: dict[str, Any]) -> bool:
        """A thread message to answer without a mention (one with a mention comes as app_mention too)."""
        return self._config.settings.slack.follow_threads and not mentions(
            str(event.get("text", "")), self._bot_user_id
        )

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("Slack answer failed", exc_info=task.exception())

    def _first_time(self, message_id: str) -> bool:
        if message_id in self._seen:
            return False
        self._seen[message_id] = None
        if len(self._seen) > SEEN_IDS:
            self._seen.popitem(last=False)
        return True

    async def _mentioned(self, where: Origin, event: dict[str, Any]) -> None:
        if where.thread_ts and await self._service.is_card_thread(PLATFORM, where.thread_ts, where.channel):
            return  # staff under a handoff card: the message event carries it to the staff relay
        await self._answer(where, event)

    async def _in_staff_channel(self, where: Origin, event: dict[str, Any]) -> None:
        """Staff replies under a card go to the handoff (never answered); other threads as usual."""
        assert self._handoff is not None and where.thread_ts is not None
        if not await self._service.is_card_thread(PLATFORM, where.thread_ts, where.channel):
            if self._follows(event):
                await self._follow(where, event)
            return
        if self._first_time(where.message_id):
            self._spawn(self._handoff.staff_wrote(where.thread_ts, where.user, self._text(event)))

    def _text(self, event: dict[str, Any]) -> str:
        """What the person wrote, readable on any platform, with links to attached files."""
        return with_files(clean_text(readable(str(event.get("text", ""))), self._bot_user_id), event)

    async def _follow(self, where: Origin, event: dict[str, Any]) -> None:
        """A thread reply without a mention: answered only in threads the bot already takes part in."""
        if await self._service.takes_part(where.key):
            await self._answer(where, event)

    async def _answer(self, where: Origin, event: dict[str, Any]) -> None:
        """Store the message (before the ack: only the store's write and a cached name), then answer
        it in a task."""
        arrived = datetime.now(UTC)
        if not self._first_time(where.message_id):
            log.info("Slack redelivered message %s; ignored", where.message_id)
            return
        assert self._names is not None
        msg = IncomingMessage(
            key=where.key,
            message_id=where.message_id,
            user_id=where.user,
            user_name=self._names.cached(where.user) or "",
            text=self._text(event),
            is_dm=where.is_dm,
            received_at=arrived,
            raw=event,
            roles=await self._staff.roles_now(where.user) if self._staff is not None else None,
        )
        names = self._names

        async def named() -> str:
            return await names.get(where.user)

        try:
            received = await self._service.receive(msg, named=named)
        except Exception:
            # Not stored (the database failed): Slack gets an error and redelivers, so that
            # redelivery must not be taken for one already seen.
            self._seen.pop(where.message_id, None)
            raise
        if received is not None:
            self._spawn(self._reply(received, where))

    async def _reply(self, received: Received, where: Origin) -> None:
        """Stream the core's reply into the thread; the sign goes up once the core accepts the message
        (nobody from staff on it) and comes down when the answer is there. Each message of the
        answer is recorded as soon as it is posted, so a restart finishes it rather than repeating it."""
        assert self._writer is not None and self._names is not None
        writer, names = self._writer, self._names

        async def shown(ts: list[str]) -> None:
            await self._service.shown(received, ts)

        async def named() -> str:
            return await names.get(where.user)

        writing = writer.begin(where, on_posted=shown)
        clock = AnswerClock(received.msg.received_at)
        signing: asyncio.Task[Sign] | None = None
        done: ReplyDone | None = None
        try:
            async with aclosing(self._service.answer(received, named=named)) as events:
                async for event in events:
                    if isinstance(event, Accepted):
                        signing = asyncio.create_task(_timed(writer.sign(where), clock))
                    elif isinstance(event, TextDelta):
                        await writing.add(event.text)
                        if writing.shown:
                            clock.first_token()
                    elif isinstance(event, ReplyDone):
                        done = event
            if done is not None:
                await self._deliver(writing, done, clock)
        finally:
            if signing is not None:
                await writer.unsign(where, await signing, replied=done is not None)

    async def _deliver(self, writing: Writing, done: ReplyDone, clock: AnswerClock) -> None:
        try:
            ts = await writing.finish(done)
            clock.complete()
        except SlackApiError as exc:
            log.error("%s", describe(exc.response.api_url.rsplit("/", 1)[-1], exc))
            if done.reply_id is not None:
                await self._service.delivery_failed(done.reply_id, error_code(exc))
            return
        if done.reply_id is not None:
            await self._service.delivered(done.reply_id, ts, clock.timings())


async def _timed(signing: Coroutine[Any, Any, Sign], clock: AnswerClock) -> Sign:
    """Put the sign up and note when it showed (analytics: time to the first visible sign)."""
    sign = await signing
    if sign is not Sign.NONE:
        clock.sign()
    return sign
