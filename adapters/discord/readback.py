"""Reading back what was written while the bot was away from Discord, which replays nothing to a new
gateway session (only a RESUME gets the missed events, and discord.py resumes by itself).

After each new session of a shard, `ReadBack.after_session` reads the DMs and threads of that shard
with a conversation active in the last bot.recover_minutes after the latest message stored, and each
server channel holding such a conversation after the latest one stored under it (new mentions there).
"Stored" means before the oldest read-back still due: each session notes its start in the store until
its read-back has stored what it found, so a process stopped before that leaves the next one to read
from the same moment. Everything read is stored, the read-back noted done, then answered.

Discord lists no DM channels to a bot, so a DM begun while the bot was away is found when its writer
writes again (`new_dm`): what they wrote after the bot's last message there is stored first.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import discord

from adapters.discord.client import PLATFORM, SupportClient
from adapters.discord.problems import SEND_ERRORS
from adapters.discord.routing import Destination
from adapters.discord.shards import shard_of
from bot.events import ThreadKey
from bot.service import Received, SupportService

log = logging.getLogger(__name__)

ToAnswer = tuple[Received, Destination, str]  # a stored message, where its answer goes, the thread's name
Accept = Callable[[discord.Message], Awaitable[list[ToAnswer]]]  # store one message read (the live path's)
AnswerAll = Callable[[list[ToAnswer]], Awaitable[None]]  # answer stored messages, each thread in order

BACKFILL_LIMIT = 100  # messages read per channel after a new gateway session
OWN_CHANNELS = (discord.DMChannel, discord.Thread)  # a conversation's own channel


class ReadBack:
    """The adapter's read-backs: when each shard's session began, and which DMs were looked into."""

    def __init__(
        self,
        service: SupportService,
        *,
        shard_count: int,
        recover_minutes: int,
        accept: Accept,
        answer: AnswerAll,
    ) -> None:
        self._service = service
        self._shard_count = shard_count
        self._recover = timedelta(minutes=recover_minutes)
        self._accept = accept
        self._answer = answer
        self.client: SupportClient | None = None
        self._sessions: dict[int, datetime] = {}  # shard → when its gateway session last began
        self._due: dict[int, datetime] = {}  # shard → where its next read-back starts
        self._dms_checked: set[int] = set()  # DM channels looked back into since shard 0's session began
        self._tasks: set[asyncio.Task[None]] = set()

    async def session_began(self, shard: int) -> None:
        """A new gateway session (dispatched before any of its messages): its read-back is due from
        its start, or from an earlier one's never done."""
        self._sessions[shard] = began = datetime.now(UTC)
        if shard == 0:  # the DMs' shard
            self._dms_checked = set()
        try:  # noted now: a process stopped before its read-back leaves it due for the next
            self._due[shard] = await self._service.read_back_due(PLATFORM, shard, began)
        except Exception as exc:  # the database away: the read-back reads from this session's start
            log.warning("Discord: could not note the read-back due (%s)", type(exc).__name__)
            self._due[shard] = began

    def after_session(self, shards: list[int]) -> None:
        """Read back for these shards' new sessions (READY, never after a RESUME), in a task."""
        task = asyncio.create_task(self._read_back(shards), name="discord-backfill")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def cancel(self) -> None:
        """At shutdown: a message a read-back did not reach is read again by the next start."""
        for task in self._tasks:
            task.cancel()

    async def _read_back(self, shards: list[int]) -> None:
        sessions = {shard: self._sessions[shard] for shard in shards if shard in self._sessions}
        due = {shard: self._due[shard] for shard in sessions if shard in self._due}

        async def recent(before: datetime | None) -> list[tuple[ThreadKey, str]]:
            found = await self._service.to_backfill(PLATFORM, before)
            return [(key, last) for key, last in found if shard_of(key, self._shard_count) in shards]

        began = min(sessions.values()) if sessions else None
        late = await recent(began)
        since = min(due.values()) if due else began
        early = await recent(since) if since != began else late
        # A conversation with nothing stored before the oldest due session (it began since) is read
        # after its latest message stored before this one.
        marks = dict(late) | dict(early)
        channels = dict(_channel_marks(late)) | dict(_channel_marks(early))
        results = await asyncio.gather(
            *(self._read_since(key.thread, last) for key, last in marks.items()),
            *(self._read_since(channel, last, server=True) for channel, last in channels.items()),
        )
        if all(through for _, _, through in results):  # else due still: the next session reads again
            for shard, start in due.items():
                await self._service.read_back_done(PLATFORM, shard, start)
        read = sum(n for n, _, _ in results)
        if read:
            log.warning("Discord: read %d message(s) written while the bot was away", read)
        await self._answer([item for _, stored, _ in results for item in stored])

    async def _read_since(
        self, channel_id: str, last: str, *, server: bool = False
    ) -> tuple[int, list[ToAnswer], bool]:
        """Store a channel's messages after `last`, oldest first: a conversation's own channel (a DM
        or a thread; not one answered inline, which has none), or with `server` a server's text
        channel, where mentions start conversations. Returns how many users' messages it read, what
        it stored (to be answered), and whether it is done with the channel: not after an error that
        may pass (Discord or the network failing), unlike a channel gone or closed to the bot."""
        client = self.client
        if client is None or not (channel_id.isdigit() and last.isdigit()):
            return 0, [], True
        read, stored = 0, []
        try:
            channel = client.get_channel(int(channel_id)) or await client.fetch_channel(int(channel_id))
            wanted = isinstance(channel, discord.TextChannel) if server else isinstance(channel, OWN_CHANNELS)
            if not wanted or not isinstance(channel, discord.abc.Messageable):
                return 0, [], True
            after = discord.Object(int(last))
            async for message in channel.history(after=after, limit=BACKFILL_LIMIT, oldest_first=True):
                read += not message.author.bot
                stored += await self._accept(message)
        except (discord.NotFound, discord.Forbidden) as exc:  # e.g. a thread never started
            log.info("Discord: could not read channel %s after a reconnect: %s", channel_id, exc)
        except SEND_ERRORS as exc:
            log.warning(
                "Discord: could not read channel %s after a reconnect (read again next time): %s",
                channel_id,
                exc,
            )
            return read, stored, False
        return read, stored, True

    async def new_dm(self, message: discord.Message, key: ThreadKey) -> list[ToAnswer]:
        """The first message of a DM channel since a new session (within bot.recover_minutes of it),
        in a conversation the store does not know: it may have begun while the bot was away, which
        the read-back can't see (Discord lists no DM channels to a bot). Stores what the writer wrote
        before it that nothing answered, to be answered first: the messages after the bot's last one
        there, within bot.recover_minutes. The bot answers every DM, so its last message closes what
        was answered, also in a conversation `privacy forget` removed from the store."""
        channel = message.channel
        session = self._sessions.get(0)
        recover = self._recover
        if channel.id in self._dms_checked or session is None or message.created_at - session > recover:
            return []
        self._dms_checked.add(channel.id)
        if await self._service.takes_part(key):
            return []  # a conversation from before: the read-back read it
        me = self.client.user if self.client is not None else None
        unanswered: list[discord.Message] = []
        try:
            async for earlier in channel.history(before=message, limit=BACKFILL_LIMIT):  # newest first
                if (me is not None and earlier.author.id == me.id) or (
                    message.created_at - earlier.created_at > recover
                ):
                    break
                unanswered.append(earlier)
        except SEND_ERRORS as exc:
            log.info("Discord: could not read DM %s back: %s", key.thread, exc)
        stored: list[ToAnswer] = []
        for earlier in reversed(unanswered):
            stored += await self._accept(earlier)
        if unanswered:
            log.warning("Discord: read %d message(s) of a DM begun while the bot was away", len(unanswered))
        return stored


def _channel_marks(found: list[tuple[ThreadKey, str]]) -> list[tuple[str, str]]:
    """The server channels under these conversations (not DMs), each with the latest message stored
    under it: snowflakes grow with time, so what came after it there was written since."""
    marks: dict[str, int] = {}
    for key, last in found:
        if key.workspace and key.channel != key.thread and key.channel.isdigit() and last.isdigit():
            marks[key.channel] = max(marks.get(key.channel, 0), int(last))
    return [(channel, str(mark)) for channel, mark in marks.items()]
