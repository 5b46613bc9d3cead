"""A fake Slack for tests and benches: the Web API the bot calls, and Slack's side of the Events API.

`FakeSlack` serves POST /api/<method> on 127.0.0.1, records every call (method, params, time) and
answers like Slack: auth.test, chat.*, reactions.*, users.info, usergroups.users.list, assistant status,
chat streaming. A method can be made slow (`latency`: seconds before it answers).
Faults: per-method queued errors (`ratelimited` is a real 429 with Retry-After), a text length
limit that answers `msg_too_long`, a token check (`invalid_auth`), and features that can be
switched off (assistant status, chat streaming, feedback_buttons blocks).
Every change to a message (posted, edited, streamed into, stopped, deleted) is noted in the journal
as its whole current state (`kind` "message"), for a soak to follow from another process.
`SlackSender` plays Slack delivering events, slash commands and interactivity: signed requests.
It models Slack only: nothing of the product is imported (tests.helpers serves the real adapter).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

import aiohttp
from aiohttp import web
from slack_sdk.signature import SignatureVerifier

from tests.fakes.base import FakeServer, json_response

TEAM = "T0TEAM"
BOT_USER = "U0BOT"
BOT_ID = "B0BOT"


@dataclass(frozen=True, slots=True)
class Call:
    method: str
    params: dict[str, Any]
    at: float  # time.monotonic() when it arrived
    peer: int = 0  # the caller's port: calls with the same one came over one connection


@dataclass
class Message:
    channel: str
    ts: str
    text: str
    thread_ts: str | None = None
    blocks: list[dict[str, Any]] = field(default_factory=list)
    streaming: bool = False


@dataclass
class FakeSlack(FakeServer[Call]):
    token: str = "xoxb-test-token"
    app_token: str = "xapp-test-token"  # Socket Mode: apps.connections.open
    max_text: int = 40_000  # chat.postMessage/update text longer than this → msg_too_long
    assistant_status: bool = True  # assistant.threads.setStatus works
    streaming: bool = True  # chat.startStream/appendStream/stopStream exist
    feedback_blocks: bool = True  # context_actions/feedback_buttons are accepted
    retry_after: str = "1"
    latency: dict[str, float] = field(default_factory=dict)  # method → seconds before it answers
    users: dict[str, str] = field(default_factory=dict)  # user id → display name
    usergroups: dict[str, list[str]] = field(default_factory=dict)  # user group id → member ids
    messages: dict[str, Message] = field(default_factory=dict)  # ts → message
    reactions: set[tuple[str, str, str]] = field(default_factory=set)  # (channel, ts, name)
    faults: dict[str, deque[str]] = field(default_factory=lambda: defaultdict(deque))
    _ts: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    realtime_ts: bool = False  # new messages' ts are the current time, as Slack's (else a counter)
    _last_micros: int = 0
    socket_acks: list[dict[str, Any]] = field(default_factory=list)  # what the bot acked over Socket Mode
    # Awaited with each Socket Mode ack as it arrives, before it is recorded: a test looks at the
    # bot's state at the moment Slack hears the ack.
    on_socket_ack: Callable[[dict[str, Any]], Awaitable[None]] | None = None
    _socket_out: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)
    _sockets: list[web.WebSocketResponse] = field(default_factory=list)
    _envelopes: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def url(self) -> str:
        return f"{super().url}/api/"

    @property
    def api_url(self) -> str:
        return self.url

    def fail_next(self, method: str, error: str, times: int = 1) -> None:
        """Answer the next `times` calls of `method` with `error` ("ratelimited" → HTTP 429)."""
        self.faults[method].extend([error] * times)

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/api/{method}", self._api)
        app.router.add_get("/socket", self._socket)

    # Looking at what the bot did.

    def called(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def thread(self, channel: str, thread_ts: str | None) -> list[Message]:
        """The bot's messages in a thread (or at a DM's top level when thread_ts is None), in order."""
        found = [m for m in self.messages.values() if m.channel == channel and m.thread_ts == thread_ts]
        return sorted(found, key=lambda m: float(m.ts))

    def describe_calls(self) -> str:
        return repr([(c.method, c.params) for c in self.calls])

    async def wait_calls(self, method: str, count: int = 1, within: float = 10.0) -> list[Call]:
        await self.wait_for(lambda: len(self.called(method)) >= count, within, what=f"{count} x {method}")
        return self.called(method)

    # The Web API.

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await _params(request)
        peer = request.transport.get_extra_info("peername") if request.transport else None
        self.record(Call(method, params, time.monotonic(), int(peer[1]) if peer else 0))
        token = self.app_token if method.startswith("apps.") else self.token
        if request.headers.get("Authorization") != f"Bearer {token}":
            return _error("invalid_auth")
        if delay := self.latency.get(method):
            await asyncio.sleep(delay)
        queued = self.faults.get(method)
        if queued:
            fault = queued.popleft()
            if fault == "ratelimited":
                return json_response(
                    {"ok": False, "error": "ratelimited"},
                    status=429,
                    headers={"Retry-After": self.retry_after},
                )
            extra = {"needed": "chat:write", "provided": "users:read"} if fault == "missing_scope" else {}
            return _error(fault, **extra)
        handler = getattr(self, "_" + method.replace(".", "_"), None)
        if handler is None:
            return _error("unknown_method")
        result: web.Response = handler(params)
        return result

    def _next_ts(self) -> str:
        if self.realtime_ts:  # later than the users' messages before it, and unique
            micros = self._last_micros = max(int(time.time() * 1_000_000), self._last_micros + 1)
            return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"
        return f"{1_700_000_000 + next(self._ts)}.000100"

    def _apps_connections_open(self, _: dict[str, Any]) -> web.Response:
        return _ok(url=f"ws://127.0.0.1:{self.port}/socket")

    async def socket_send(self, kind: str, payload: dict[str, Any]) -> str:
        """Deliver an envelope ("events_api", "slash_commands", "interactive") over Socket Mode."""
        envelope_id = f"env-{next(self._envelopes)}"
        await self._socket_out.put(
            {"envelope_id": envelope_id, "type": kind, "payload": payload, "accepts_response_payload": True}
        )
        return envelope_id

    async def drop_sockets(self) -> None:
        """Close every Socket Mode connection, as when Slack's side goes away."""
        for ws in list(self._sockets):
            await ws.close()

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_json({"type": "hello", "num_connections": 1, "debug_info": {"host": "fake"}})

        async def pump() -> None:
            while True:
                await ws.send_json(await self._socket_out.get())

        sender = asyncio.create_task(pump())
        try:
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.TEXT:
                    ack = json.loads(msg.data)
                    if self.on_socket_ack is not None:
                        await self.on_socket_ack(ack)
                    self.socket_acks.append(ack)
                    self.changed()
        finally:
            sender.cancel()
            self._sockets.remove(ws)
        return ws

    def _auth_test(self, _: dict[str, Any]) -> web.Response:
        return _ok(
            url="https://acme.slack.com/",
            team="Acme",
            user="supportbot",
            team_id=TEAM,
            user_id=BOT_USER,
            bot_id=BOT_ID,
        )

    def _users_info(self, params: dict[str, Any]) -> web.Response:
        user = str(params.get("user"))
        name = self.users.get(user, f"name-of-{user}")
        return _ok(
            user={"id": user, "name": user.lower(), "profile": {"display_name": name, "real_name": name}}
        )

    def _usergroups_users_list(self, params: dict[str, Any]) -> web.Response:
        group = str(params.get("usergroup"))
        if group not in self.usergroups:
            return _error("no_such_subteam")
        return _ok(users=self.usergroups[group])

    def _blocks_error(self, params: dict[str, Any]) -> web.Response | None:
        blocks = params.get("blocks") or []
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        if not self.feedback_blocks and any(b.get("type") == "context_actions" for b in blocks):
            return _error("invalid_blocks")
        return None

    def _chat_postMessage(self, params: dict[str, Any]) -> web.Response:
        text = str(params.get("text", ""))
        if len(text) > self.max_text:
            return _error("msg_too_long")
        if (refused := self._blocks_error(params)) is not None:
            return refused
        ts, channel = self._next_ts(), str(params["channel"])
        self.messages[ts] = Message(channel, ts, text, params.get("thread_ts"), _blocks(params))
        self._noted("post", self.messages[ts])
        return _ok(channel=channel, ts=ts, message={"text": text, "ts": ts})

    def _chat_update(self, params: dict[str, Any]) -> web.Response:
        msg = self.messages.get(str(params.get("ts")))
        if msg is None:
            return _error("message_not_found")
        text = str(params.get("text", ""))
        if len(text) > self.max_text:
            return _error("msg_too_long")
        if (refused := self._blocks_error(params)) is not None:
            return refused
        msg.text = text
        if "blocks" in params:
            msg.blocks = _blocks(params)
        self._noted("update", msg)
        return _ok(channel=msg.channel, ts=msg.ts, text=text)

    def _chat_delete(self, params: dict[str, Any]) -> web.Response:
        gone = self.messages.pop(str(params.get("ts")), None)
        if gone is not None:
            self._noted("delete", gone)
        return _ok(ts=params.get("ts"))

    def _conversations_replies(self, params: dict[str, Any]) -> web.Response:
        """The bot's messages in a thread after `oldest` (the fake keeps only the bot's)."""
        return self._listed(str(params["channel"]), str(params["ts"]), params)

    def _conversations_history(self, params: dict[str, Any]) -> web.Response:
        """The bot's messages at a channel's top level after `oldest`."""
        return self._listed(str(params["channel"]), None, params)

    def _listed(self, channel: str, thread_ts: str | None, params: dict[str, Any]) -> web.Response:
        oldest = float(params.get("oldest") or 0)
        found = [m for m in self.thread(channel, thread_ts) if float(m.ts) > oldest]
        listed = [
            {"type": "message", "user": BOT_USER, "bot_id": "B0BOT", "ts": m.ts, "text": m.text}
            for m in found
        ]
        return _ok(messages=listed, has_more=False)

    def _chat_getPermalink(self, params: dict[str, Any]) -> web.Response:
        channel, ts = str(params["channel"]), str(params["message_ts"])
        link = f"https://acme.slack.com/archives/{channel}/p{ts.replace('.', '')}"
        return _ok(channel=channel, permalink=link)

    def _chat_postEphemeral(self, params: dict[str, Any]) -> web.Response:
        return _ok(message_ts=self._next_ts())

    def _views_open(self, params: dict[str, Any]) -> web.Response:
        view = params.get("view")
        opened: dict[str, Any] = json.loads(view) if isinstance(view, str) else dict(view or {})
        return _ok(view=opened | {"id": "V0VIEW"})

    def _reactions_add(self, params: dict[str, Any]) -> web.Response:
        key = (str(params["channel"]), str(params["timestamp"]), str(params["name"]))
        if key in self.reactions:
            return _error("already_reacted")
        self.reactions.add(key)
        return _ok()

    def _reactions_remove(self, params: dict[str, Any]) -> web.Response:
        key = (str(params["channel"]), str(params["timestamp"]), str(params["name"]))
        if key not in self.reactions:
            return _error("no_reaction")
        self.reactions.discard(key)
        return _ok()

    def _assistant_threads_setStatus(self, params: dict[str, Any]) -> web.Response:
        return _ok() if self.assistant_status else _error("feature_not_enabled")

    def _chat_startStream(self, params: dict[str, Any]) -> web.Response:
        if not self.streaming:
            return _error("unknown_method")
        channel = str(params["channel"])
        if not channel.startswith("D") and not params.get("recipient_user_id"):
            return _error("invalid_arguments")
        if len(_stream_text(params)) > self.max_text:
            return _error("msg_too_long")
        ts = self._next_ts()
        self.messages[ts] = Message(channel, ts, "", params.get("thread_ts"), streaming=True)
        return self._appended(ts, params)

    def _chat_appendStream(self, params: dict[str, Any]) -> web.Response:
        msg = self.messages.get(str(params.get("ts")))
        if msg is None or not msg.streaming:
            return _error("message_not_in_streaming_state")
        return self._appended(msg.ts, params)

    def _chat_stopStream(self, params: dict[str, Any]) -> web.Response:
        msg = self.messages.get(str(params.get("ts")))
        if msg is None or not msg.streaming:
            return _error("message_not_in_streaming_state")
        if (refused := self._blocks_error(params)) is not None:
            return refused
        if (too_long := self._stream_append(msg.ts, params)) is not None:
            return _error(too_long)  # the last words didn't fit: the stream stays open, as it was
        msg.streaming = False
        msg.blocks = _blocks(params)
        self._noted("stopStream", msg)
        return _ok(channel=msg.channel, ts=msg.ts)

    def _appended(self, ts: str, params: dict[str, Any]) -> web.Response:
        refused = self._stream_append(ts, params)
        return _error(refused) if refused is not None else _ok(channel=self.messages[ts].channel, ts=ts)

    def _stream_append(self, ts: str, params: dict[str, Any]) -> str | None:
        """Add the call's text to the stream; the error code when it doesn't fit."""
        msg = self.messages[ts]
        added = _stream_text(params)
        if len(msg.text) + len(added) > self.max_text:
            return "msg_too_long"
        msg.text += added
        if msg.streaming:
            self._noted("appendStream", msg)
        return None

    def _noted(self, op: str, msg: Message) -> None:
        """The message as it now is, in the journal: buttons = an actions block (an answer's final
        version), open = a stream not stopped yet."""
        buttons = any(b.get("type") == "actions" for b in msg.blocks)
        self.note(
            "message",
            op=op,
            channel=msg.channel,
            ts=msg.ts,
            thread_ts=msg.thread_ts,
            text=msg.text,
            buttons=buttons,
            open=msg.streaming,
        )


async def _params(request: web.Request) -> dict[str, Any]:
    params: dict[str, Any] = dict(request.query)
    if request.content_type == "application/json":
        body = await request.json()
        params |= body if isinstance(body, dict) else {}
    elif request.can_read_body:
        params |= dict(parse_qsl(await request.text()))
    return params


def _stream_text(params: dict[str, Any]) -> str:
    text = str(params.get("markdown_text") or "")
    for chunk in params.get("chunks") or []:
        if chunk.get("type") == "markdown_text":
            text += str(chunk.get("text", ""))
    return text


def _blocks(params: dict[str, Any]) -> list[dict[str, Any]]:
    blocks = params.get("blocks") or []
    return list(json.loads(blocks) if isinstance(blocks, str) else blocks)


def _ok(**fields: Any) -> web.Response:
    return json_response({"ok": True, **fields})


def _error(code: str, **fields: Any) -> web.Response:
    return json_response({"ok": False, "error": code, **fields})


# Slack's side of the Events API: deliveries to the bot's HTTP endpoint.


@dataclass
class SlackSender:
    """Posts signed Slack requests (events, slash commands, interactivity) to the bot's endpoint."""

    url: str  # http://127.0.0.1:P/slack/events
    signing_secret: str
    session: aiohttp.ClientSession
    _events: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def headers(
        self, body: str, *, timestamp: int | None = None, secret: str | None = None
    ) -> dict[str, str]:
        ts = str(int(time.time()) if timestamp is None else timestamp)
        verifier = SignatureVerifier(secret or self.signing_secret)
        signature = verifier.generate_signature(timestamp=ts, body=body) or ""
        return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature}

    async def post(
        self, body: str, content_type: str, headers: dict[str, str] | None = None
    ) -> tuple[int, str]:
        all_headers = {"Content-Type": content_type, **(self.headers(body) if headers is None else headers)}
        async with self.session.post(self.url, data=body.encode(), headers=all_headers) as resp:
            return resp.status, await resp.text()

    def event_body(self, event: dict[str, Any], event_id: str | None = None) -> str:
        return json.dumps(event_callback(event, event_id or f"Ev{next(self._events):08d}"))

    async def event(self, event: dict[str, Any], *, retry: int = 0, event_id: str | None = None) -> int:
        body = self.event_body(event, event_id)
        headers = self.headers(body)
        if retry:
            headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
        status, _ = await self.post(body, "application/json", headers)
        return status

    async def command(self, command: str, text: str, *, channel: str, user: str) -> tuple[int, str]:
        form = slash_command(command, text, channel=channel, user=user)
        return await self.post(urlencode(form), "application/x-www-form-urlencoded")

    async def interaction(self, payload: dict[str, Any]) -> tuple[int, str]:
        body = urlencode({"payload": json.dumps(payload)})
        return await self.post(body, "application/x-www-form-urlencoded")


def event_callback(event: dict[str, Any], event_id: str) -> dict[str, Any]:
    """The Events API envelope around one event."""
    return {
        "token": "unused",
        "team_id": TEAM,
        "api_app_id": "A0APP",
        "event": event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(time.time()),
        "authorizations": [{"team_id": TEAM, "user_id": BOT_USER, "is_bot": True}],
    }


def slash_command(command: str, text: str, *, channel: str, user: str) -> dict[str, str]:
    """A slash command's fields as Slack sends them."""
    return {
        "token": "unused",
        "team_id": TEAM,
        "team_domain": "acme",
        "channel_id": channel,
        "channel_name": "directmessage" if channel.startswith("D") else "support",
        "user_id": user,
        "user_name": user.lower(),
        "command": command,
        "text": text,
        "api_app_id": "A0APP",
        "response_url": "https://hooks.slack.invalid/commands/1",
        "trigger_id": "1.2.3",
    }


def mention(text: str, *, channel: str, ts: str, user: str, thread_ts: str | None = None) -> dict[str, Any]:
    """An app_mention event as Slack sends it."""
    event = {
        "type": "app_mention",
        "user": user,
        "text": f"<@{BOT_USER}> {text}",
        "ts": ts,
        "channel": channel,
    }
    event |= {"event_ts": ts, "client_msg_id": f"cm-{ts}"}
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


def message(
    text: str, *, channel: str, ts: str, user: str, thread_ts: str | None = None, **extra: Any
) -> dict[str, Any]:
    """A message event (message.channels / message.im) as Slack sends it."""
    kind = "im" if channel.startswith("D") else "channel"
    event = {
        "type": "message",
        "user": user,
        "text": text,
        "ts": ts,
        "channel": channel,
        "channel_type": kind,
    }
    event |= {"event_ts": ts}
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event | extra


def block_action(
    action_id: str, value: str, *, user: str, channel: str, message_ts: str, thread_ts: str | None
) -> dict[str, Any]:
    """A block_actions payload for a button on one of the bot's messages."""
    return {
        "type": "block_actions",
        "user": {"id": user, "team_id": TEAM},
        "team": {"id": TEAM, "domain": "acme"},
        "api_app_id": "A0APP",
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel,
            "thread_ts": thread_ts,
        },
        "channel": {"id": channel},
        "message": {"ts": message_ts, "thread_ts": thread_ts, "text": "answer", "bot_id": BOT_ID},
        "trigger_id": "1.2.3",
        "response_url": "https://hooks.slack.invalid/actions/1",
        "actions": [
            {"action_id": action_id, "block_id": "b", "type": "button", "value": value, "action_ts": "1"}
        ],
    }


def message_shortcut(
    callback_id: str, *, user: str, channel: str, ts: str, thread_ts: str | None, text: str
) -> dict[str, Any]:
    """A message_action payload (a message shortcut chosen on a message)."""
    msg: dict[str, Any] = {"type": "message", "user": user, "ts": ts, "text": text}
    if thread_ts:
        msg["thread_ts"] = thread_ts
    return {
        "type": "message_action",
        "callback_id": callback_id,
        "trigger_id": "1.2.3",
        "user": {"id": user, "team_id": TEAM},
        "team": {"id": TEAM, "domain": "acme"},
        "channel": {"id": channel, "name": "support"},
        "message_ts": ts,
        "message": msg,
        "response_url": "https://hooks.slack.invalid/actions/2",
    }


SIGNING_SECRET = "test-signing-secret"
