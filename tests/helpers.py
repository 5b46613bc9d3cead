"""Small helpers: driving the manager the way an adapter does, and serving the real Slack adapter."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import aiohttp
import aiosqlite

from adapters.slack.adapter import SlackAdapter
from bot.app import App
from bot.conversation.manager import ConversationManager
from bot.events import Accepted, IncomingMessage, ReplyDone, ReplyEvent, TextDelta, ThreadKey
from bot.storage.sqlite import SQLiteStore
from bot.storage.store import ConversationStore, MessageStatus, Role, StoredMessage
from tests.fakes.slack_server import SIGNING_SECRET, FakeSlack, SlackSender

_ids = itertools.count(1)
T = TypeVar("T")


def staff_channel_toml(platform: str = "slack", channel: str = "C0STAFF") -> str:
    """Settings naming where staff cards go: with one, an escalation promises the user a person;
    with none, the user is told plainly that nobody receives it."""
    return f'[escalation.staff_channel]\nplatform = "{platform}"\nchannel = "{channel}"\n'


def message(text: str, thread: str = "t1", message_id: str | None = None) -> IncomingMessage:
    return IncomingMessage(
        key=ThreadKey("console", "", "console", thread),
        message_id=message_id or f"m{next(_ids)}",
        user_id="u1",
        user_name="Ada",
        text=text,
        is_dm=True,
        received_at=datetime.now(UTC),
    )


async def ask(
    manager: ConversationManager, msg: IncomingMessage
) -> tuple[list[ReplyEvent], ReplyDone | None]:
    """Run one message through the manager; return all events and the final one (None if dropped)."""
    events: list[ReplyEvent] = []
    async with aclosing(manager.handle(msg)) as stream:
        async for event in stream:
            events.append(event)
    assert not events or isinstance(events[0], Accepted)  # a reply is always announced first
    events = events[1:]
    done = events[-1] if events else None
    assert done is None or isinstance(done, ReplyDone)
    assert all(isinstance(e, TextDelta) for e in events[:-1])
    if done is not None and done.reply_id is not None:
        await manager.mark_delivered(done.reply_id, None)
    return events, done


async def until(check: Callable[[], Awaitable[T | None]], what: str, within: float = 10.0) -> T:
    """Poll an async check until it returns something truthy, and return that; fail after `within` s."""
    deadline = time.monotonic() + within
    while not (result := await check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)
    return result


def sqlite_db(app: App) -> aiosqlite.Connection:
    """The SQLite store's connection, for a test that writes what the protocol can't (the tests' apps
    run on SQLite)."""
    assert isinstance(app.store, SQLiteStore)
    return app.store.db


async def left_unanswered(
    store: ConversationStore, key: ThreadKey, message_id: str, text: str, at: datetime
) -> StoredMessage:
    """What a run that stopped mid-answer leaves behind: the message stored, no reply."""
    stored = await store.record_inbound(IncomingMessage(key, message_id, "U0ADA", "Ada", text, True, at), 8)
    assert stored is not None
    return stored


async def delivered_replies(app: App, key: ThreadKey, count: int = 1) -> list[StoredMessage]:
    """The conversation's replies, once `count` are stored as delivered: the adapter marks them just
    after the platform accepted them, so a test that saw the platform's side waits for this one."""

    async def replies() -> list[StoredMessage] | None:
        conv = await app.store.find_conversation(key)
        stored = await app.store.messages(conv.id, 50) if conv is not None else []
        found = [m for m in stored if m.role is not Role.USER]
        return found if sum(m.status is MessageStatus.DELIVERED for m in found) >= count else None

    return await until(replies, f"{count} replies stored as delivered")


async def retry_now(app: App) -> int:
    """Make every pending reply's next attempt due at once and run the outbox's sweep; how many were
    delivered. (The backoff itself is minutes long: a test skips the wait, not the attempt.)"""
    store = app.store
    assert isinstance(store, SQLiteStore), "retry_now reaches into the SQLite file"
    async with store.write_lock:
        await store.db.execute("UPDATE messages SET retry_at = NULL WHERE status = 'pending'")
    return await app.outbox.sweep(datetime.now(UTC) - timedelta(hours=1))


@asynccontextmanager
async def serving_bot(app: App) -> AsyncIterator[tuple[SlackAdapter, SlackSender]]:
    """The real Slack adapter in HTTP mode on an ephemeral port, and a sender of signed requests to it."""
    adapter = SlackAdapter(app.service, app.config, mode="http", host="127.0.0.1", port=0)
    await adapter.start()
    try:
        async with aiohttp.ClientSession() as session:
            yield (
                adapter,
                SlackSender(f"http://127.0.0.1:{adapter.port}/slack/events", SIGNING_SECRET, session),
            )
    finally:
        await adapter.close()


@dataclass
class Bot:
    """The app with the Slack adapter running, a sender of Slack's requests, and the fake Slack."""

    app: App
    adapter: SlackAdapter
    send: SlackSender
    slack: FakeSlack


BotFactory = Callable[..., Awaitable[Bot]]
