"""The Postgres store's holds on today's spend, shared by every instance: a row per model call under
way (`spend_holds`), checked against the caps and written under one transaction-scoped advisory
lock, so two instances can't both pass the check with room for one. What replies used is read from
the replies themselves; a hold left by an instance that died lapses at its `expires_at`."""

from __future__ import annotations

import asyncio

from bot.storage.postgres.locks import SPEND, advisory_key
from bot.storage.postgres.stats import SPENT_BY_ALL, SPENT_BY_USER, PostgresStats
from bot.storage.store import NO_SPEND, SpendHold, SpendLedger, SpendRoom, Spent

# Everyone's and the user's ($2, $3) use since $1, and the holds that have not lapsed, in one read.
_LEDGERS = (
    "SELECT a.usd, a.tokens, u.usd AS user_usd, u.tokens AS user_tokens, h.* FROM"
    " ({spent_all}) a, ({spent_user}) u,"
    " (SELECT COALESCE(SUM(usd), 0.0) AS held_usd, COALESCE(SUM(tokens), 0) AS held_tokens,"
    " COUNT(*) AS holds,"
    " COALESCE(SUM(usd) FILTER (WHERE platform = $2 AND user_id = $3), 0.0) AS user_held_usd,"
    " COALESCE(SUM(tokens) FILTER (WHERE platform = $2 AND user_id = $3), 0) AS user_held_tokens,"
    " COUNT(*) FILTER (WHERE platform = $2 AND user_id = $3) AS user_holds"
    " FROM spend_holds WHERE expires_at > now()) h"
)
LEDGERS = _LEDGERS.format(spent_all=SPENT_BY_ALL, spent_user=SPENT_BY_USER)
# Without a cap per user: the user's own spend is not read (their holds, in the same scan, are).
LEDGERS_OF_ALL = _LEDGERS.format(spent_all=SPENT_BY_ALL, spent_user="SELECT 0.0 AS usd, 0 AS tokens")


# Holds are short-lived and lapse by themselves, so their commits don't wait for the disk: a
# database crash may forget the last moment's holds, i.e. reserve a little less for a moment.
_NO_FLUSH = "SET LOCAL synchronous_commit = off"


class PostgresSpend(PostgresStats):
    """The spend-holding part of `PostgresStore`."""

    def __init__(self, url: str, pool_size: int = 10, lock_pool_size: int = 20) -> None:
        super().__init__(url, pool_size, lock_pool_size)
        # This process's holds take turns before they take a connection: answers waiting for the
        # database's lock would otherwise hold every pooled connection the other statements need.
        self._spend_turn = asyncio.Lock()

    async def hold_spend(self, hold: SpendHold, room: SpendRoom) -> int | str:
        platform, user_id = hold.user
        async with self._spend_turn, self.pool.acquire() as conn, conn.transaction():
            # Its own statement: a statement's snapshot is taken before it runs, so the reads
            # below must start after the lock is held to see the holds committed before it.
            await conn.execute(f"{_NO_FLUSH}; SELECT pg_advisory_xact_lock({advisory_key(SPEND)})")
            ledgers = LEDGERS if hold.per_user else LEDGERS_OF_ALL
            row = await conn.fetchrow(ledgers, hold.since, platform, user_id)
            assert row is not None
            everyone = SpendLedger(
                Spent(float(row["usd"]), int(row["tokens"])),
                Spent(float(row["held_usd"]), int(row["held_tokens"])),
                int(row["holds"]),
            )
            mine = (
                SpendLedger(
                    Spent(float(row["user_usd"]), int(row["user_tokens"])),
                    Spent(float(row["user_held_usd"]), int(row["user_held_tokens"])),
                    int(row["user_holds"]),
                )
                if hold.per_user
                else NO_SPEND
            )
            reason = room(everyone, mine)
            if reason is not None:
                return reason
            hold_id = await conn.fetchval(
                "INSERT INTO spend_holds (platform, user_id, usd, tokens, expires_at)"
                " VALUES ($1, $2, $3, $4, now() + $5::interval) RETURNING id",
                platform,
                user_id,
                hold.worst.cost_usd,
                hold.worst.tokens,
                hold.lease,
            )
            return int(hold_id)

    async def release_spend(self, hold_id: int, used: Spent) -> None:
        # `used` is already in the reply's row; lapsed holds are cleared on the way.
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                f"{_NO_FLUSH}; DELETE FROM spend_holds WHERE id = {int(hold_id)} OR expires_at <= now()"
            )
