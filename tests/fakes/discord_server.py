"""A small fake of Discord's REST API and gateway on 127.0.0.1, for driving the real discord.py client.

The gateway says HELLO, answers IDENTIFY with READY and one GUILD_CREATE (a text channel, a staff role,
the bot's own role), RESUME with RESUMED (or INVALID_SESSION when not `resumable`), ACKs heartbeats
and dispatches events on demand. REST endpoints the client uses are
served and every call is recorded; faults (429 with Via and retry_after, 403, 500) can be queued.
A channel can be left out of the client's cache (`uncached_thread`): the client then only learns of it
from the REST API, as when a thread was created while the bot was offline.
Users' messages can be written into a channel's history without a gateway event (`wrote_while_away`),
as when the bot is offline; GET /channels/{id}/messages reads them (`after`, `before`, `limit`) with
the bot's own; posting into a message of the text channel from which no thread was started is
Unknown Channel (404), as on Discord. A message sent with a `nonce` and `enforce_nonce` whose nonce
the bot used before in that channel returns the earlier message, as Discord does for a few minutes.
`user_writes` is a user writing while the bot may be connected: into the history, and dispatched to
the connected clients (none: only the history has it). With `realtime_ids` new ids are snowflakes
of the current time, as Discord's are, so a client can tell a message's age from its id. Every bot
message posted, edited or deleted and every thread started is noted in the journal.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from tests.fakes.base import FakeServer, json_response

API_PREFIX = "/api/v10"
DISCORD_EPOCH_MS = 1_420_070_400_000  # snowflakes count milliseconds from 2015-01-01
NOW = "2025-01-01T00:00:00.000000+00:00"

Payload = dict[str, Any]


@dataclass
class Call:
    method: str
    path: str  # without the /api/v10 prefix, e.g. /channels/1/messages
    query: dict[str, str]
    body: Any
    at: float  # time.perf_counter() when it arrived


@dataclass
class Fault:
    method: str
    path: re.Pattern[str]
    status: int
    body: Payload
    headers: dict[str, str]
    times: int


def user(user_id: int, name: str, *, bot: bool = False) -> Payload:
    return {
        "id": str(user_id),
        "username": name,
        "global_name": name,
        "discriminator": "0",
        "avatar": None,
        "bot": bot,
        "public_flags": 0,
    }


@dataclass
class FakeDiscord(FakeServer[Call]):
    bot_id: int = 1_200_000_000_000_000_001
    guild_id: int = 1_200_000_000_000_000_100
    channel_id: int = 1_200_000_000_000_000_200  # a text channel in the guild
    staff_role_id: int = 1_200_000_000_000_000_300
    bot_role_id: int = 1_200_000_000_000_000_301
    reject_message_content: bool = False  # close with 4014 when the intent is asked for
    gateway_down: bool = False  # refuse new gateway connections (503), as in an outage
    identifies: list[Payload] = field(default_factory=list)
    resumable: bool = True  # a RESUME continues the session (else INVALID_SESSION: a new one)
    resumes: int = 0  # RESUMEs received
    messages: dict[int, Payload] = field(default_factory=dict)  # posted by the bot, as last edited
    replies: list[Payload] = field(default_factory=list)  # interaction responses and follow-ups
    channels: dict[int, Payload] = field(default_factory=dict)
    history: dict[int, list[Payload]] = field(default_factory=dict)  # channel → users' messages
    _in_text_channel: set[int] = field(default_factory=set)  # its users' messages: no channels
    realtime_ids: bool = False  # new ids are snowflakes of the current time
    _faults: list[Fault] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1_300_000_000_000_000_000))
    _sockets: list[tuple[web.WebSocketResponse, itertools.count[int]]] = field(default_factory=list)
    _shards: dict[web.WebSocketResponse, tuple[int, int]] = field(default_factory=dict)  # [id, count]
    _sessions: dict[str, tuple[int, int]] = field(default_factory=dict)  # a shard's session → [id, count]

    # -- addresses ---------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"{super().url}{API_PREFIX}"

    @property
    def api_url(self) -> str:
        return self.url

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/"

    @property
    def token(self) -> str:
        """A token shaped like Discord's: base64 of the bot id, then two more segments."""
        return base64.b64encode(str(self.bot_id).encode()).decode().rstrip("=") + ".GfAkE0.not-a-real-token"

    def next_id(self) -> int:
        if self.realtime_ids:  # time in the top bits, the counter's low 22 bits keep ids unique
            return ((int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22) | (next(self._ids) & 0x3FFFFF)
        return next(self._ids)

    # -- server ------------------------------------------------------------------------------------

    def routes(self, app: web.Application) -> None:
        self.dm_channels: dict[str, str] = {}  # user id → the DM channel the bot opened with them
        self.channels[self.channel_id] = self._text_channel()
        app.router.add_get("/", self._gateway)
        app.router.add_route("*", API_PREFIX + "/{tail:.*}", self._rest)

    async def stop(self) -> None:
        for ws, _ in list(self._sockets):
            await ws.close()
        await super().stop()

    def fail_next(
        self,
        method: str,
        path: str,
        status: int,
        *,
        times: int = 1,
        retry_after: float = 0.05,
        code: int = 0,
    ) -> None:
        """Queue `times` error responses for calls matching method and path (a regex, fully matched)."""
        headers: dict[str, str] = {}
        body: Payload = {"message": f"fake error {status}", "code": code}
        if status == 429:
            headers = {"Via": "1.1 google", "Retry-After": str(retry_after)}
            body = {"message": "You are being rate limited.", "retry_after": retry_after, "global": False}
        elif status == 403:
            body = {"message": "Missing Permissions", "code": code or 50013}
        self._faults.append(Fault(method, re.compile(path), status, body, headers, times))

    # -- waiting and inspecting --------------------------------------------------------------------

    def find(self, method: str, path: str) -> list[Call]:
        pattern = re.compile(path)
        return [c for c in self.calls if c.method == method and pattern.fullmatch(c.path)]

    def describe_calls(self) -> str:
        return repr([(c.method, c.path) for c in self.calls])

    async def wait_connected(self, within: float = 10.0) -> None:
        await self.wait_for(lambda: bool(self._sockets), within=within, what="a gateway connection")

    def sent_to(self, channel_id: int) -> list[Payload]:
        """Messages the bot posted in a channel, in their current (edited) form, oldest first."""
        return [
            m for m in self.messages.values() if m["channel_id"] == str(channel_id) and m["author"]["bot"]
        ]

    # -- gateway -----------------------------------------------------------------------------------

    async def disconnect_all(self, code: int, reason: str) -> None:
        """Close every gateway connection with a close code, as Discord does (4004: token revoked)."""
        for ws, _ in list(self._sockets):
            await ws.close(code=code, message=reason.encode())

    def shard_of(self, guild_id: int | None, shard_count: int) -> int:
        """Discord's rule: a server's events go to shard (id >> 22) % count, DMs to shard 0."""
        return 0 if guild_id is None else (guild_id >> 22) % shard_count

    def _receives(self, ws: web.WebSocketResponse, data: Payload) -> bool:
        if ws not in self._shards:
            return True  # not sharded: one connection gets everything
        shard, count = self._shards[ws]
        guild = data.get("guild_id") if isinstance(data, dict) else None
        return self.shard_of(int(guild) if guild else None, count) == shard

    async def dispatch(self, event: str, data: Payload) -> int:
        """Send a DISPATCH event to every connected (identified) client, or with shards to the one
        whose shard receives it; how many it reached."""
        sent = 0
        for ws, seq in [(w, s) for w, s in self._sockets if self._receives(w, data)]:
            with contextlib.suppress(ConnectionError, RuntimeError):  # a client that just went away
                await ws.send_str(json.dumps({"op": 0, "t": event, "s": next(seq), "d": data}))
                sent += 1
        return sent

    async def user_writes(self, data: Payload) -> int:
        """A user's message (a `dm_message` or `guild_message` payload): into the channel's history
        (`wrote_while_away`) and dispatched as MESSAGE_CREATE; how many clients it reached (0: the bot
        is offline, and only the history has it)."""
        self.wrote_while_away(data)
        return await self.dispatch("MESSAGE_CREATE", data)

    async def _gateway(self, request: web.Request) -> web.StreamResponse:
        if self.gateway_down:
            return web.Response(status=503, text="gateway unavailable")
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        seq = itertools.count(1)
        await ws.send_json({"op": 10, "d": {"heartbeat_interval": 41250}, "s": None, "t": None})
        try:
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    continue
                frame = json.loads(msg.data)
                if frame["op"] == 1:
                    await ws.send_json({"op": 11, "d": None, "s": None, "t": None})
                elif frame["op"] == 2:
                    await self._identify(ws, seq, frame["d"])
                elif frame["op"] == 6:
                    await self._resume(ws, seq, frame["d"])
        finally:
            self._sockets[:] = [(w, s) for w, s in self._sockets if w is not ws]
            self._shards.pop(ws, None)
            self.changed()
        return ws

    async def _identify(self, ws: web.WebSocketResponse, seq: itertools.count[int], data: Payload) -> None:
        self.identifies.append(data)
        if data.get("token") != self.token:
            await ws.close(code=4004, message=b"Authentication failed.")
            return
        if self.reject_message_content and data.get("intents", 0) & (1 << 15):
            await ws.close(code=4014, message=b"Disallowed intent(s).")
            return
        shard = data.get("shard")  # [id, count] from a sharded client
        if shard is not None:
            self._shards[ws] = self._sessions[f"fake-session-{shard[0]}"] = (shard[0], shard[1])
        ours = shard is None or self.shard_of(self.guild_id, shard[1]) == shard[0]
        ready = {
            "v": 10,
            "user": user(self.bot_id, "Supportbot", bot=True),
            "guilds": [{"id": str(self.guild_id), "unavailable": True}] if ours else [],
            "session_id": "fake-session" if shard is None else f"fake-session-{shard[0]}",
            "resume_gateway_url": self.gateway_url,
            "application": {"id": str(self.bot_id), "flags": 0},
        } | ({} if shard is None else {"shard": shard})
        await ws.send_str(json.dumps({"op": 0, "t": "READY", "s": next(seq), "d": ready}))
        if ours:
            await ws.send_str(json.dumps({"op": 0, "t": "GUILD_CREATE", "s": next(seq), "d": self._guild()}))
        self._sockets.append((ws, seq))
        self.changed()

    async def _resume(self, ws: web.WebSocketResponse, seq: itertools.count[int], data: Payload) -> None:
        """A RESUME: RESUMED (the session goes on) while `resumable`, else INVALID_SESSION (d=false),
        after which the client must IDENTIFY for a new session."""
        self.resumes += 1
        if not self.resumable:
            await ws.send_json({"op": 9, "d": False, "s": None, "t": None})
            return
        await ws.send_str(json.dumps({"op": 0, "t": "RESUMED", "s": next(seq), "d": {}}))
        shard = self._sessions.get(str(data.get("session_id", "")))
        if shard is not None:  # a shard's session: it goes on receiving that shard
            self._shards[ws] = shard
        self._sockets.append((ws, seq))
        self.changed()

    # -- payloads ----------------------------------------------------------------------------------

    def _role(self, role_id: int, name: str, tags: Payload | None = None) -> Payload:
        role: Payload = {
            "id": str(role_id),
            "name": name,
            "permissions": str((1 << 10) | (1 << 11) | (1 << 16) | (1 << 35) | (1 << 38)),
            "position": 0,
            "color": 0,
            "hoist": False,
            "managed": tags is not None,
            "mentionable": True,
            "flags": 0,
        }
        if tags is not None:
            role["tags"] = tags
        return role

    def _text_channel(self) -> Payload:
        return {
            "id": str(self.channel_id),
            "type": 0,
            "guild_id": str(self.guild_id),
            "name": "support",
            "position": 0,
            "permission_overwrites": [],
            "nsfw": False,
            "parent_id": None,
            "topic": None,
            "rate_limit_per_user": 0,
            "last_message_id": None,
            "flags": 0,
        }

    def _guild(self) -> Payload:
        return {
            "id": str(self.guild_id),
            "name": "Fake guild",
            "icon": None,
            "owner_id": "1",
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "preferred_locale": "en-US",
            "features": [],
            "emojis": [],
            "stickers": [],
            "roles": [
                self._role(self.guild_id, "@everyone"),
                self._role(self.staff_role_id, "Support staff"),
                self._role(self.bot_role_id, "Supportbot", {"bot_id": str(self.bot_id)}),
            ],
            "member_count": 3,
            "large": False,
            "unavailable": False,
            "joined_at": NOW,
            "channels": [self._text_channel()],
            "threads": [],
            "members": [self.member(self.bot_id, "Supportbot", roles=[self.bot_role_id], bot=True)],
            "voice_states": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }

    def member(self, user_id: int, name: str, *, roles: Sequence[int] = (), bot: bool = False) -> Payload:
        return {
            "user": user(user_id, name, bot=bot),
            "roles": [str(r) for r in roles],
            "joined_at": NOW,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "nick": None,
        }

    def dm_message(
        self,
        text: str,
        *,
        channel_id: int,
        author_id: int = 900,
        name: str = "Ada",
        bot: bool = False,
        message_id: int | None = None,
    ) -> Payload:
        """A MESSAGE_CREATE payload for a DM to the bot."""
        return {
            "id": str(message_id or self.next_id()),
            "channel_id": str(channel_id),
            "author": user(author_id, name, bot=bot),
            "content": text,
            "timestamp": NOW,
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": [],
            "pinned": False,
            "type": 0,
            "flags": 0,
        }

    def attachment(self, filename: str) -> Payload:
        """An attachment as it appears in a MESSAGE_CREATE payload."""
        aid = self.next_id()
        url = f"https://cdn.discordapp.com/attachments/{aid}/{filename}"
        return {"id": str(aid), "filename": filename, "size": 1024, "url": url, "proxy_url": url}

    def guild_message(
        self,
        text: str,
        *,
        channel_id: int | None = None,
        author_id: int = 901,
        name: str = "Grace",
        mention: bool = True,
        bot: bool = False,
        roles: Sequence[int] = (),
    ) -> Payload:
        """A MESSAGE_CREATE payload in the guild; `mention` puts "<@bot> " in front, as a client does;
        the author's member data carries `roles`, as Discord sends them."""
        data = self.dm_message(
            f"<@{self.bot_id}> {text}" if mention else text,
            channel_id=channel_id or self.channel_id,
            author_id=author_id,
            name=name,
            bot=bot,
        )
        data["guild_id"] = str(self.guild_id)
        member = self.member(author_id, name, roles=roles)
        del member["user"]
        data["member"] = member
        if mention:
            data["mentions"] = [user(self.bot_id, "Supportbot", bot=True)]
        return data

    def interaction(
        self,
        type_: int,
        data: Payload,
        *,
        channel_id: int,
        user_id: int = 900,
        name: str = "Ada",
        roles: list[int] | None = None,
        message: Payload | None = None,
    ) -> Payload:
        """An INTERACTION_CREATE payload: in the guild when `roles` is given (a member), else a DM."""
        iid = self.next_id()
        channel = self.channels.get(channel_id) or {"id": str(channel_id), "type": 1}
        payload: Payload = {
            "id": str(iid),
            "application_id": str(self.bot_id),
            "type": type_,
            "data": data,
            "channel_id": str(channel_id),
            "channel": channel,
            "token": f"itoken-{iid}",
            "version": 1,
            "locale": "en-US",
            "app_permissions": "0",
            "entitlements": [],
            "attachment_size_limit": 8_388_608,
            "authorizing_integration_owners": {"0": str(self.guild_id)}
            if roles is not None
            else {"1": str(user_id)},
            "context": 0 if roles is not None else 1,
        }
        if roles is not None:
            payload["guild_id"] = str(self.guild_id)
            member = self.member(user_id, name, roles=roles)
            member["permissions"] = "0"
            payload["member"] = member
        else:
            payload["user"] = user(user_id, name)
        if message is not None:
            payload["message"] = message
        return payload

    def slash(
        self, command: str, *, channel_id: int, options: Mapping[str, object] | None = None, **who: Any
    ) -> Payload:
        opts = [{"name": k, "type": 3, "value": v} for k, v in (options or {}).items()]
        data = {"id": str(self.next_id()), "name": command, "type": 1, "options": opts}
        if "guild" in who and who.pop("guild"):
            data["guild_id"] = str(self.guild_id)
        return self.interaction(2, data, channel_id=channel_id, **who)

    def click(self, message: Payload, custom_id: str, **who: Any) -> Payload:
        """A button press on one of the bot's messages."""
        return self.interaction(
            3,
            {"custom_id": custom_id, "component_type": 2},
            channel_id=int(message["channel_id"]),
            message=message,
            **who,
        )

    # -- REST --------------------------------------------------------------------------------------

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"]
        body: Any = None
        if request.can_read_body:
            raw = await request.read()
            if raw:
                body = json.loads(raw)
        self.record(Call(request.method, path, dict(request.query), body, time.perf_counter()))
        bot_auth = not path.startswith(("/interactions/", "/webhooks/"))
        if bot_auth and request.headers.get("Authorization") != f"Bot {self.token}":
            return json_response({"message": "401: Unauthorized", "code": 0}, status=401)
        for fault in self._faults:
            if fault.times > 0 and fault.method == request.method and fault.path.fullmatch(path):
                fault.times -= 1
                return json_response(fault.body, status=fault.status, headers=fault.headers)
        for method, pattern, handler in self._routes():
            match = pattern.fullmatch(path)
            if method == request.method and match:
                if handler == self._read_history:
                    return await self._read_history(body, match.group(1), request.query)
                return await handler(body, *match.groups())
        return json_response({"message": "404: Not Found", "code": 0}, status=404)

    def _routes(self) -> list[tuple[str, re.Pattern[str], Callable[..., Awaitable[web.StreamResponse]]]]:
        table: list[tuple[str, str, Callable[..., Awaitable[web.StreamResponse]]]] = [
            ("GET", r"/users/@me", self._me),
            ("POST", r"/users/@me/channels", self._open_dm),
            ("GET", r"/oauth2/applications/@me", self._application),
            ("GET", r"/gateway(?:/bot)?", self._gateway_info),
            ("PUT", r"/applications/(\d+)/commands", self._commands),
            ("PUT", r"/applications/(\d+)/guilds/(\d+)/commands", self._commands),
            ("POST", r"/channels/(\d+)/typing", self._no_content),
            ("POST", r"/channels/(\d+)/messages", self._post_message),
            ("GET", r"/channels/(\d+)/messages", self._read_history),
            ("GET", r"/channels/(\d+)/messages/(\d+)", self._get_message),
            ("PATCH", r"/channels/(\d+)/messages/(\d+)", self._edit_message),
            ("DELETE", r"/channels/(\d+)/messages/(\d+)", self._delete_message),
            ("POST", r"/channels/(\d+)/messages/(\d+)/threads", self._start_thread),
            ("GET", r"/channels/(\d+)", self._get_channel),
            ("POST", r"/interactions/(\d+)/([^/]+)/callback", self._callback),
            ("POST", r"/webhooks/(\d+)/([^/]+)", self._followup),
        ]
        return [(m, re.compile(p), h) for m, p, h in table]

    async def _me(self, body: Any) -> web.Response:
        return json_response(
            user(self.bot_id, "Supportbot", bot=True) | {"verified": True, "mfa_enabled": False}
        )

    async def _open_dm(self, body: Payload) -> web.Response:
        """The DM channel with a user (the same one each time), as POST /users/@me/channels returns it."""
        recipient = str(body["recipient_id"])
        channel_id = self.dm_channels.setdefault(recipient, str(self.next_id()))
        return json_response(
            {
                "id": channel_id,
                "type": 1,
                "last_message_id": None,
                "recipients": [user(int(recipient), "user")],
            }
        )

    async def _application(self, body: Any) -> web.Response:
        return json_response(
            {
                "id": str(self.bot_id),
                "name": "Supportbot",
                "description": "",
                "icon": None,
                "bot_public": True,
                "bot_require_code_grant": False,
                "owner": user(1, "owner"),
                "verify_key": "0" * 64,
                "flags": 0,
                "team": None,
                "interactions_endpoint_url": None,
            }
        )

    async def _gateway_info(self, body: Any) -> web.Response:
        limit = {"total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1}
        return json_response({"url": self.gateway_url, "shards": 1, "session_start_limit": limit})

    async def _commands(self, body: Any, app_id: str, guild_id: str | None = None) -> web.Response:
        out = []
        for command in body:
            registered = {"id": str(self.next_id()), "application_id": app_id, "version": "1"} | command
            registered.setdefault("description", "")
            if guild_id is not None:
                registered["guild_id"] = guild_id
            out.append(registered)
        return json_response(out)

    async def _no_content(self, body: Any, *ids: str) -> web.Response:
        return web.Response(status=204)

    def _message(self, channel_id: str, body: Payload) -> Payload:
        message = self.dm_message(body.get("content") or "", channel_id=int(channel_id))
        message["author"] = user(self.bot_id, "Supportbot", bot=True)
        message["components"] = body.get("components") or []
        message["embeds"] = body.get("embeds") or []
        message["flags"] = body.get("flags") or 0
        if body.get("message_reference"):
            message["message_reference"] = body["message_reference"]
            message["type"] = 19
        return message

    async def _post_message(self, body: Payload, channel_id: str) -> web.Response:
        if int(channel_id) in self._in_text_channel and int(channel_id) not in self.channels:
            # A message's id is a channel only once a thread was started from the message.
            return json_response({"message": "Unknown Channel", "code": 10003}, status=404)
        nonce = body.get("nonce") if body.get("enforce_nonce") else None
        for earlier in self.messages.values():
            if nonce is not None and earlier.get("nonce") == nonce and earlier["channel_id"] == channel_id:
                return json_response(earlier)
        message = self._message(channel_id, body)
        if body.get("nonce") is not None:
            message["nonce"] = body["nonce"]
        self.messages[int(message["id"])] = message
        self._noted("post", message)
        return json_response(message)

    def bot_posted(self, channel_id: int, content: str, *, nonce: str | None = None) -> Payload:
        """A message of the bot's already in a channel (e.g. the part of an answer a killed run posted)."""
        message = self._message(str(channel_id), {"content": content})
        if nonce is not None:
            message["nonce"] = nonce
        self.messages[int(message["id"])] = message
        return message

    def _noted(self, op: str, message: Payload) -> None:
        """A bot message as it now is, in the journal (buttons: it has components, a final version)."""
        self.note(
            "message",
            op=op,
            channel_id=message["channel_id"],
            id=message["id"],
            text=message.get("content") or "",
            buttons=bool(message.get("components")),
        )

    def wrote_while_away(self, message: Payload) -> Payload:
        """Put a user's message (a `dm_message` or `guild_message`) into its channel's history without
        a gateway event, and make a DM channel known to GET /channels/{id}."""
        channel_id = int(message["channel_id"])
        self.history.setdefault(channel_id, []).append(message)
        if channel_id == self.channel_id:
            self._in_text_channel.add(int(message["id"]))
        if "guild_id" not in message and channel_id not in self.channels:
            self.channels[channel_id] = {
                "id": str(channel_id),
                "type": 1,
                "last_message_id": message["id"],
                "recipients": [message["author"]],
            }
        self.changed()
        return message

    async def _read_history(self, body: Any, channel_id: str, query: Mapping[str, str]) -> web.Response:
        """Up to `limit` messages after `after` (the oldest of them) or before `before`, newest first."""
        found = [m for m in self.history.get(int(channel_id), [])]
        found += [m for m in self.messages.values() if m["channel_id"] == channel_id]
        found.sort(key=lambda m: int(m["id"]))
        limit = int(query.get("limit", "50"))
        if "after" in query:
            found = [m for m in found if int(m["id"]) > int(query["after"])][:limit]
        elif "before" in query:
            found = [m for m in found if int(m["id"]) < int(query["before"])][-limit:]
        else:
            found = found[-limit:]
        return json_response(list(reversed(found)))

    async def _get_message(self, body: Any, channel_id: str, message_id: str) -> web.Response:
        found = [m for m in self.history.get(int(channel_id), []) if m["id"] == message_id]
        found += [m for m in self.messages.values() if (m["id"], m["channel_id"]) == (message_id, channel_id)]
        if not found:
            return json_response({"message": "Unknown Message", "code": 10008}, status=404)
        return json_response(found[0])

    async def _edit_message(self, body: Payload, channel_id: str, message_id: str) -> web.Response:
        message = self.messages.get(int(message_id))
        if message is None:
            return json_response({"message": "Unknown Message", "code": 10008}, status=404)
        if "content" in body:
            message["content"] = body["content"]
        if "components" in body:
            message["components"] = body["components"]
        message["edited_timestamp"] = NOW
        self._noted("edit", message)
        return json_response(message)

    async def _delete_message(self, body: Any, channel_id: str, message_id: str) -> web.Response:
        gone = self.messages.pop(int(message_id), None)
        if gone is not None:
            self._noted("delete", gone)
        return web.Response(status=204)

    def uncached_thread(self, name: str = "an older thread", owner_id: int = 901) -> int:
        """A public thread under the text channel that the client was never told of (REST knows it)."""
        thread_id = self.next_id()
        self.channels[thread_id] = self._thread(str(thread_id), str(self.channel_id), name, owner_id)
        return thread_id

    def _thread(
        self, thread_id: str, parent_id: str, name: str, owner_id: int, archive_minutes: int = 1440
    ) -> Payload:
        return {
            "id": thread_id,
            "type": 11,
            "guild_id": str(self.guild_id),
            "parent_id": parent_id,
            "owner_id": str(owner_id),
            "name": name,
            "message_count": 0,
            "member_count": 1,
            "rate_limit_per_user": 0,
            "flags": 0,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": archive_minutes,
                "archive_timestamp": NOW,
                "locked": False,
            },
        }

    async def _start_thread(self, body: Payload, channel_id: str, message_id: str) -> web.Response:
        if int(message_id) in self.channels:
            return json_response(
                {"message": "A thread has already been created for this message", "code": 160004}, 400
            )
        # Discord: the thread shares the id of the message it starts from.
        archive = body.get("auto_archive_duration", 1440)
        thread = self._thread(message_id, channel_id, body["name"], self.bot_id, archive)
        self.channels[int(message_id)] = thread
        self.note("thread", id=message_id, parent_id=channel_id)
        await self.dispatch("THREAD_CREATE", thread | {"newly_created": True})
        return json_response(thread, status=201)

    async def _get_channel(self, body: Any, channel_id: str) -> web.Response:
        channel = self.channels.get(int(channel_id))
        if channel is None:
            return json_response({"message": "Unknown Channel", "code": 10003}, status=404)
        return json_response(channel)

    async def _callback(self, body: Payload, interaction_id: str, token: str) -> web.Response:
        kind = body["type"]
        data = body.get("data") or {}
        response: Payload = {
            "interaction": {
                "id": interaction_id,
                "type": 2,
                "response_message_loading": kind == 5,
                "response_message_ephemeral": bool((data.get("flags") or 0) & 64),
            }
        }
        if kind in (4, 5):
            message = self._message("0", data)
            self.replies.append(message | {"interaction_id": interaction_id, "callback_type": kind})
            response["interaction"]["response_message_id"] = message["id"]
            response["resource"] = {"type": kind, "message": message}
        return json_response(response)

    async def _followup(self, body: Payload, app_id: str, token: str) -> web.Response:
        message = self._message("0", body) | {"webhook_id": app_id}
        self.replies.append(message | {"token": token, "callback_type": None})
        return json_response(message)
