"""Discord payloads the adapter accepts: the shape an INTERACTION_CREATE must have before discord.py
sees it, and a log that stays short when junk keeps arriving.

discord.py trusts Discord's payloads: a field missing or of the wrong type fails inside its parser
(`guard_parsers` skips that), or later, in a task of its own (the command tree's invoker, a button's
dispatch, the response's URL), where it ends as a traceback in the log. So an interaction is checked
first for everything discord.py and our handlers read; one that fails is ignored with a line in the log.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.ids import parse_id

log = logging.getLogger(__name__)

KINDS = {2, 3, 4, 5}  # application command, component, autocomplete, modal submit (1, ping, is HTTP-only)
TOKEN = re.compile(r"[A-Za-z0-9_.\-]{1,1000}\Z")  # ASCII: it goes into the callback's URL
SCALARS = (str, int, float, bool)


@dataclass
class QuietLog:
    """At most `burst` warnings per kind of problem per `every` seconds; those held back are counted
    into the next line of that kind, so junk arriving in bulk cannot flood the log."""

    burst: int = 10
    every: float = 60.0
    clock: Callable[[], float] = time.monotonic
    _windows: dict[str, tuple[float, int, int]] = field(default_factory=dict)  # start, lines, held back

    def warning(self, kind: str, message: str, *args: object) -> None:
        now = self.clock()
        start, lines, held = self._windows.get(kind, (now, 0, 0))
        if now - start >= self.every:
            start, lines = now, 0
        if lines >= self.burst:
            self._windows[kind] = (start, lines, held + 1)
            return
        self._windows[kind] = (start, lines + 1, 0)
        more = f" ({held} more like it not logged)" if held else ""
        log.warning(message + more, *args)


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _snowflake(value: Any) -> bool:
    """An id, or a permission bit set: ASCII digits as text, as Discord sends both."""
    return isinstance(value, str) and parse_id(value) is not None


def _text(value: Any, most: int) -> bool:
    return isinstance(value, str) and 0 < len(value) <= most


def _known_kind(value: Any) -> bool:
    return _int(value) and value in KINDS


def _token(value: Any) -> bool:
    return isinstance(value, str) and TOKEN.match(value) is not None


def _optional(data: dict[str, Any], key: str, check: Callable[[Any], bool]) -> bool:
    return key not in data or data[key] is None or check(data[key])


def _user(value: Any) -> str | None:
    if not isinstance(value, dict):
        return "user is not an object"
    if not _snowflake(value.get("id")) or not isinstance(value.get("username"), str):
        return "user without an id or username"
    for key in ("global_name", "avatar", "discriminator"):
        if not _optional(value, key, lambda v: isinstance(v, str)):
            return f"user.{key} is not text"
    return None


def _member(value: Any) -> str | None:
    if not isinstance(value, dict):
        return "member is not an object"
    roles = value.get("roles")
    if not isinstance(roles, list) or not all(_snowflake(r) for r in roles):
        return "member.roles is not a list of ids"
    if not _optional(value, "permissions", _snowflake):
        return "member.permissions is not a number"
    for key in ("joined_at", "nick", "avatar"):
        if not _optional(value, key, lambda v: isinstance(v, str)):
            return f"member.{key} is not text"
    return _user(value.get("user"))


def _options(value: Any, depth: int = 0) -> str | None:
    """Command options: a list of {name, type, value | options}, subcommands nested at most twice."""
    if not isinstance(value, list) or depth > 2:
        return "options are not a list"
    for option in value:
        if not isinstance(option, dict) or not _text(option.get("name"), 32) or not _int(option.get("type")):
            return "an option without a name or type"
        if "value" in option and not isinstance(option["value"], SCALARS):
            return f"option {option['name']!r} has a value of the wrong type"
        if "options" in option and (problem := _options(option["options"], depth + 1)):
            return problem
    return None


def _data(kind: int, data: Any) -> str | None:
    if not isinstance(data, dict):
        return "data is not an object"
    if kind in (2, 4):
        if not _text(data.get("name"), 32) or not _snowflake(data.get("id")):
            return "a command without a name or id"
        if not _optional(data, "type", _int) or not _optional(data, "guild_id", _snowflake):
            return "a command's type or guild_id is of the wrong type"
        return _options(data["options"]) if "options" in data else None
    if not _text(data.get("custom_id"), 100):
        return "a component without a custom_id"
    if kind == 3 and not _int(data.get("component_type")):
        return "a component without a component_type"
    if kind == 3 and not _optional(data, "values", lambda v: isinstance(v, list)):
        return "component values are not a list"
    if kind == 5 and not isinstance(data.get("components"), list):
        return "a modal without components"
    return None


def _message(value: Any) -> str | None:
    if not isinstance(value, dict):
        return "message is not an object"
    if not _snowflake(value.get("id")) or not _snowflake(value.get("channel_id")):
        return "message without an id or channel_id"
    # discord.py rebuilds the pressed button's view from message.components (set only when present).
    if not _optional(value, "flags", _int) or not isinstance(value.get("components"), list):
        return "message.flags or message.components missing or of the wrong type"
    return None


# Top-level fields: (key, check, required). Optional ones may also be null.
TOP: tuple[tuple[str, Callable[[Any], bool], bool], ...] = (
    ("id", _snowflake, True),
    ("application_id", _snowflake, True),
    ("type", _known_kind, True),
    ("token", _token, True),
    ("version", _int, True),
    ("attachment_size_limit", _int, True),
    ("guild_id", _snowflake, False),
    ("channel_id", _snowflake, False),
    ("context", _int, False),
    ("locale", lambda v: isinstance(v, str), False),
    ("app_permissions", _snowflake, False),
)


def _top(data: dict[str, Any]) -> str | None:
    for key, check, required in TOP:
        if not (check(data.get(key)) if required else _optional(data, key, check)):
            return f"{key} missing or of the wrong type"
    return None


def _surroundings(data: dict[str, Any]) -> str | None:
    channel = data.get("channel")
    if channel is not None and (
        not isinstance(channel, dict) or not _snowflake(channel.get("id")) or not _int(channel.get("type"))
    ):
        return "channel without an id or type"
    owners = data.get("authorizing_integration_owners", {})
    if not isinstance(owners, dict) or not all(_snowflake(k) and _snowflake(v) for k, v in owners.items()):
        return "authorizing_integration_owners is not a map of ids"
    for key in ("entitlements", "entitlement_skus"):
        if not _optional(data, key, lambda v: isinstance(v, list)):
            return f"{key} is not a list"
    if (data.get("type") == 3 or "message" in data) and (problem := _message(data.get("message"))):
        return problem  # a button press always comes with the message it is under
    # In a server discord.py reads the member, elsewhere the user; a press from neither has no author.
    return _member(data.get("member")) if data.get("guild_id") else _user(data.get("user"))


def interaction_problem(data: Any) -> str | None:
    """Why discord.py (or a handler) would fail on this INTERACTION_CREATE payload; None when it is fine."""
    if not isinstance(data, dict):
        return "not an object"
    return _top(data) or _surroundings(data) or _data(data["type"], data.get("data"))
