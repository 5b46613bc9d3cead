"""Advisory lock keys: every lock the Postgres store takes, named, as the 64-bit integer Postgres wants."""

from __future__ import annotations

import hashlib

# Namespaces, so a conversation's key can never be a job's or the migrations' key.
MIGRATIONS = "supportbot:migrations"
CONVERSATION = "supportbot:conversation:"
LEADER = "supportbot:leader:"
INSTANCE = "supportbot:instance:"  # held by each running instance for its lifetime
USER = "supportbot:user:"  # held while one of the user's messages is stored
SPEND = "supportbot:spend"  # held while a spend hold is checked against the caps and stored


def advisory_key(name: str) -> int:
    """A stable signed 64-bit key for `name` (the same in every process and Python version)."""
    digest = hashlib.blake2b(name.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)
