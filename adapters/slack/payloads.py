"""Slack payloads → the core's keys and messages: which conversation, which id, what to ignore."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.events import ThreadKey

PLATFORM = "slack"
# Plain user messages; edits, deletes, joins and bot posts arrive with other subtypes and are ignored.
ANSWERABLE_SUBTYPES = frozenset({None, "thread_broadcast", "file_share"})


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a user message was posted, and so where its answer goes."""

    team: str
    channel: str
    ts: str  # the user's message
    thread_ts: str | None  # the thread to answer in; None = top level of a DM
    user: str
    is_dm: bool

    @property
    def key(self) -> ThreadKey:
        return thread_key(self.team, self.channel, self.ts, self.thread_ts, self.is_dm)

    @property
    def message_id(self) -> str:
        # channel+ts is the same in app_mention and message events and in every retry.
        return f"{self.channel}:{self.ts}"


def thread_key(team: str, channel: str, ts: str, thread_ts: str | None, is_dm: bool) -> ThreadKey:
    """A channel conversation is its thread (a top-level mention starts one); a DM is one conversation
    unless the user replies inside a thread there."""
    if is_dm:
        return ThreadKey(PLATFORM, team, channel, thread_ts or channel)
    return ThreadKey(PLATFORM, team, channel, thread_ts or ts)


def is_dm_channel(channel: str, channel_type: str | None = None) -> bool:
    return channel_type == "im" if channel_type else channel.startswith("D")


def from_bot(event: Mapping[str, Any]) -> bool:
    return bool(event.get("bot_id") or event.get("bot_profile")) or event.get("subtype") == "bot_message"


def answerable(event: Mapping[str, Any]) -> bool:
    """A human's new message with a user and text: not a bot, an edit, a deletion or a join."""
    return (
        event.get("subtype") in ANSWERABLE_SUBTYPES
        and not from_bot(event)
        and bool(event.get("user"))
        and "ts" in event
    )


def origin(event: Mapping[str, Any], team: str, *, mention: bool) -> Origin:
    """Where to answer: a channel mention in its thread (or a new one), a DM where it was written."""
    channel = str(event["channel"])
    is_dm = is_dm_channel(channel, event.get("channel_type"))
    ts = str(event["ts"])
    thread_ts = event.get("thread_ts")
    if not is_dm and thread_ts is None and mention:
        thread_ts = ts  # start a thread under the mention
    return Origin(
        team=team,
        channel=channel,
        ts=ts,
        thread_ts=str(thread_ts) if thread_ts else None,
        user=str(event["user"]),
        is_dm=is_dm,
    )


def mentions(text: str, user_id: str | None) -> bool:
    return bool(user_id) and f"<@{user_id}" in text


def clean_text(text: str, bot_user_id: str | None) -> str:
    """The text as the user meant it: without the bot's mention and Slack's escaping."""
    if bot_user_id:
        text = re.sub(rf"<@{re.escape(bot_user_id)}(\|[^>]*)?>", "", text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").strip()


_SLACK_LINK = re.compile(r"<((?:https?|mailto):[^|>]+)(?:\|([^>]*))?>")


def readable(text: str) -> str:
    """Slack's <url|label> links as "label (url)", for people reading elsewhere (relayed to Discord)."""
    return _SLACK_LINK.sub(lambda m: f"{m.group(2)} ({m.group(1)})" if m.group(2) else m.group(1), text)


def with_files(text: str, event: Mapping[str, Any]) -> str:
    """The text followed by links to the message's files, so relayed messages keep their attachments."""
    files = event.get("files") or []
    links = [str(f.get("permalink") or f.get("url_private") or "") for f in files if isinstance(f, Mapping)]
    return "\n".join(part for part in (text, *links) if part)


def team_of(body: Mapping[str, Any]) -> str:
    """The workspace id of an events or interactivity payload."""
    team = body.get("team_id") or (body.get("team") or {}).get("id") or body.get("user", {}).get("team_id")
    return str(team or "")
