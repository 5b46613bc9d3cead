"""Discord sharding: which shard a conversation's events arrive on, and what this process holds.

Discord sends a server's events to shard `(server id >> 22) % shard_count` and every DM to shard 0.
A process holds a lock in the shared database for each shard it connects (and one for the DMs with
shard 0), so two instances never run the same shard and DMs arrive at exactly one of them.
"""

from __future__ import annotations

from bot.events import ThreadKey
from bot.settings import DiscordSettings

DM_SHARD = 0


def shard_of(key: ThreadKey, shard_count: int) -> int:
    """The shard that receives the events of `key`'s conversation (a DM's workspace is "")."""
    if shard_count <= 1 or not key.workspace.isdigit():
        return DM_SHARD
    return (int(key.workspace) >> 22) % shard_count


def shard_locks(settings: DiscordSettings, bot_id: int | None) -> list[str]:
    """The names this process holds while connected: without sharding it is shard 0 of 1."""
    count = settings.shard_count or 1
    shards = settings.shards() or [DM_SHARD]
    bot = bot_id if bot_id is not None else "?"
    names = [f"discord {bot} shard {shard}/{count}" for shard in shards]
    if DM_SHARD in shards:
        names.append(f"discord {bot} dms")  # also with another shard_count: DMs go to shard 0 of any
    return names


def describe(settings: DiscordSettings) -> str:
    """How the shards this process runs are named in messages, e.g. "shards 0, 1 of 4"."""
    shards = settings.shards()
    if not shards:
        return "the Discord connection"
    ids = ", ".join(str(shard) for shard in shards)
    return f"Discord shard{'s' if len(shards) > 1 else ''} {ids} of {settings.shard_count}"
