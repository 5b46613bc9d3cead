"""Discord's side of the soak: the bot on the fake gateway, and users writing DMs, mentions in a server
channel (answered in a thread the bot starts) and follow-ups in those threads.

A message goes through the fake's control route: kept in the channel's history and dispatched to the
connected bot; while the bot is down it is only in the history, as on Discord (which replays nothing
to a new session). Some messages are dispatched twice (`dup_rate`), as a replay would.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import aiohttp

from bench.common import ServedFake
from bench.soak.plan import Message
from bench.soak.record import Record
from tests.fakes.discord_server import FakeDiscord

DM_CHANNELS = 5_000_000_000_000_000_000  # + the thread's number: each DM conversation's channel
USERS = 10_000  # + the thread's number: its user
SUPPORT_CHANNEL = FakeDiscord.channel_id  # the fake server's one text channel


@dataclass
class DiscordSide:
    fake: ServedFake
    session: aiohttp.ClientSession
    rng: random.Random
    dup_rate: float
    sent: int = 0  # MESSAGE_CREATE dispatches tried, duplicates included
    offline: int = 0  # messages written while no bot was connected (in the history only)
    starts_seen: int = 0  # how many IDENTIFYs mean "the bot is up" (one per start)

    name = "discord"
    gave_up = 0  # (Slack's figure)

    def bot_args(self) -> list[str]:
        return ["--discord"]

    async def ready(self) -> bool:
        async with self.session.get(self.fake.control + "state") as resp:
            state = await resp.json()
        if state["connections"] >= 1 and state["identifies"] > self.starts_seen:
            self.starts_seen = int(state["identifies"])
            return True
        return False

    def can_send(self, msg: Message, record: Record) -> bool:
        """A follow-up in a server thread needs the thread the bot starts under the mention."""
        thread = msg.thread
        return thread.dm or msg.index == 0 or thread.place in record.threads

    async def send(self, msg: Message, record: Record) -> None:
        thread = msg.thread
        spec: dict[str, object] = {
            "text": msg.text,
            "author_id": USERS + thread.number,
            "name": f"user{thread.number}",
        }
        if thread.dm:
            spec |= {"channel_id": DM_CHANNELS + thread.number, "guild": False}
            thread.place = str(DM_CHANNELS + thread.number)
        elif msg.index == 0:
            spec |= {"channel_id": SUPPORT_CHANNEL, "guild": True, "mention": True}
        else:
            spec |= {"channel_id": int(thread.place), "guild": True, "mention": msg.mention}
        duplicates = int(self.rng.random() < self.dup_rate)
        spec["duplicates"] = duplicates
        async with self.session.post(self.fake.control + "user_message", json=spec) as resp:
            written = await resp.json()
        msg.platform_id = str(written["id"])
        if not thread.dm and msg.index == 0:
            thread.place = msg.platform_id  # the thread the bot starts shares the question's id
        self.sent += 1 + duplicates
        msg.unseen = written["delivered"] == 0
        self.offline += msg.unseen

    async def drain(self) -> None:
        return None  # nothing is delivered later
