"""Slack's HTTP endpoint with a strict front door: signature and timestamp on the raw body, then the
Content-Type, then the body's shape; only what passes reaches Bolt, as a JSON object it can read.

Rejections are answered 400/401/415 without parsing further and without a traceback; each reason
is logged at most once a minute (with the count of the ones not logged), never the body or headers.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.signature import SignatureVerifier

from bot.ids import parse_id

log = logging.getLogger(__name__)

STALE_S = 300  # Slack's rule: a timestamp more than five minutes off is a replay
LOG_EVERY_S = 60.0  # one log line per rejection reason per minute
MAX_FIELDS = 100  # form fields in one request (Slack sends about a dozen)
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"

Dispatch = Callable[[AsyncBoltRequest], Awaitable[BoltResponse]]


class Rejected(Exception):
    """A request the front door refuses: the HTTP status and a short reason (logged, and the body)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass
class RejectionLog:
    """At most one line per reason per `every` seconds; the lines in between are counted."""

    every: float = LOG_EVERY_S
    clock: Callable[[], float] = time.monotonic
    _last: dict[str, float] = field(default_factory=dict)
    _quiet: dict[str, int] = field(default_factory=dict)

    def note(self, status: int, reason: str) -> None:
        now = self.clock()
        last = self._last.get(reason)
        if last is not None and now - last < self.every:
            self._quiet[reason] = self._quiet.get(reason, 0) + 1
            return
        self._last[reason] = now
        quiet = self._quiet.pop(reason, 0)
        more = f" ({quiet} more since the last line)" if quiet else ""
        log.warning("Slack HTTP: refused a request (%s): %s%s", status, reason, more)


def _timestamp(headers: Mapping[str, str], now: float) -> str:
    text = headers.get("X-Slack-Request-Timestamp", "")
    stamp = parse_id(text)
    if stamp is None:
        raise Rejected(401, "missing or non-numeric X-Slack-Request-Timestamp")
    if abs(now - stamp) > STALE_S:
        raise Rejected(401, "stale X-Slack-Request-Timestamp (more than 5 minutes off)")
    return text


def verify(verifier: SignatureVerifier | None, raw: bytes, headers: Mapping[str, str]) -> None:
    """Slack's signature over the raw bytes, with a numeric, fresh timestamp; else Rejected(401)."""
    if verifier is None:
        raise Rejected(401, "no signing secret configured (set SLACK_SIGNING_SECRET)")
    stamp = _timestamp(headers, verifier.clock.now())
    signature = headers.get("X-Slack-Signature")
    if not signature or not signature.isascii():  # slack_sdk's compare_digest raises on non-ASCII
        raise Rejected(401, "missing or non-ASCII X-Slack-Signature")
    if not verifier.is_valid(raw, stamp, signature):
        raise Rejected(401, "bad signature")


def _json_object(text: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        raise Rejected(400, f"{what} is not valid JSON") from None
    if not isinstance(value, dict):
        raise Rejected(400, f"{what} is not a JSON object")
    return value


def _form(text: str) -> dict[str, Any]:
    """A slash command's fields, or the JSON object in an interactivity `payload`."""
    try:
        fields = dict(parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FIELDS))
    except ValueError:
        raise Rejected(400, "form with too many fields") from None
    if "payload" in fields:
        return _json_object(fields["payload"], "the form's payload")
    if isinstance(fields.get("command"), str) or fields.get("ssl_check") == "1":
        return fields
    raise Rejected(400, "form with neither a payload nor a command")


def parse(raw: bytes, content_type: str) -> dict[str, Any]:
    """The body as one JSON object: events come as JSON, commands and interactivity as a form."""
    if content_type not in (JSON, FORM):
        raise Rejected(415, "Content-Type is neither application/json nor a form")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Rejected(400, "body is not UTF-8") from None
    body = _json_object(text, "body") if content_type == JSON else _form(text)
    if content_type == JSON and ("command" in body or not isinstance(body.get("type"), str)):
        raise Rejected(400, "a JSON body that is not an event")
    problem = shape_problem(body)
    if problem is not None:
        raise Rejected(400, problem)
    return body


def _is_str(value: Any, *, optional: bool = False) -> bool:
    return isinstance(value, str) or (optional and value is None)


def _has_id(value: Any) -> bool:
    return isinstance(value, dict) and _is_str(value.get("id"))


def _event_problem(event: Any) -> str | None:
    if not isinstance(event, dict) or not _is_str(event.get("type")):
        return "event without a type"
    texts = ("channel", "user", "ts", "thread_ts", "text", "channel_type", "subtype", "bot_id")
    if not all(_is_str(event.get(name), optional=True) for name in texts):
        return "event with a field of the wrong type"
    if not isinstance(event.get("files") or [], list):
        return "event with files that are not a list"
    if not all(isinstance(event.get(name) or {}, dict) for name in ("message", "previous_message")):
        return "event whose message is not an object"
    return None


def _objects_problem(body: Mapping[str, Any]) -> str | None:
    for name in ("event", "user"):  # read as body.get(name, {}): absent or an object
        if name in body and not isinstance(body[name], dict):
            return f"{name} is not an object"
    for name in ("team", "channel", "container", "message", "enterprise", "view"):  # may be null
        if body.get(name) is not None and not isinstance(body[name], dict):
            return f"{name} is not an object"
    authorizations = body.get("authorizations") or []
    if not isinstance(authorizations, list) or not all(isinstance(a, dict) for a in authorizations):
        return "authorizations are not a list of objects"
    return None


def _interaction_problem(body: Mapping[str, Any]) -> str | None:
    if not _has_id(body.get("user")):
        return "interaction without a user"
    actions = body.get("actions", [])
    if body.get("type") == "block_actions" and not actions:
        return "block actions without an action"
    if not _is_str(body.get("callback_id"), optional=True):
        return "callback_id is not a string"
    if not isinstance(actions, list) or not all(
        isinstance(a, dict) and _is_str(a.get("action_id")) and _is_str(a.get("value"), optional=True)
        for a in actions
    ):
        return "interaction with malformed actions"
    return None


def shape_problem(body: Mapping[str, Any]) -> str | None:
    """What makes a verified body unreadable for Bolt's routing and our listeners, or None."""
    if "command" in body:
        return None if all(isinstance(v, str) for v in body.values()) else "command with non-text fields"
    kind = body.get("type")
    if not _is_str(kind, optional=True):
        return "type is not a string"
    problem = _objects_problem(body)
    if problem is not None:
        return problem
    if kind == "event_callback":
        return _event_problem(body.get("event"))
    if kind is None:
        return None if body.get("ssl_check") == "1" else "neither an event, a command nor an interaction"
    return None if kind == "url_verification" else _interaction_problem(body)


@dataclass
class FrontDoor:
    """The aiohttp handler for POST /slack/events: checks, then Bolt (its own verification is off)."""

    verifier: SignatureVerifier | None
    dispatch: Dispatch
    rejections: RejectionLog = field(default_factory=RejectionLog)

    async def handle(self, request: web.Request) -> web.Response:
        try:
            raw = await request.read()
            verify(self.verifier, raw, request.headers)
            body = parse(raw, request.content_type)
            bolt_request = self._bolt_request(request, body)
        except Rejected as exc:
            self.rejections.note(exc.status, exc.reason)
            return web.Response(status=exc.status, text=exc.reason)
        return await to_aiohttp_response(await self.dispatch(bolt_request))

    @staticmethod
    def _bolt_request(request: web.Request, body: dict[str, Any]) -> AsyncBoltRequest:
        """Bolt reads the checked body as JSON (its own form parsing would misread a command whose
        text says "payload"); building its context can still fail on a shape nobody sends."""
        headers: dict[str, str | Sequence[str]] = {
            k: v for k, v in request.headers.items() if k.lower() != "content-type"
        }
        try:
            return AsyncBoltRequest(
                body=json.dumps(body),
                query=request.query_string,
                headers=headers | {"Content-Type": JSON},
            )
        except (AttributeError, TypeError, KeyError, IndexError, ValueError):
            raise Rejected(400, "a body Bolt cannot read") from None
