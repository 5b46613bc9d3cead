"""The Postgres store's figures: counts, tokens and cost per model, escalation timings, spend since then."""

from __future__ import annotations

from datetime import datetime

from bot.storage.postgres.connection import PostgresConnection
from bot.storage.store import ModelStats, Spent, Stats

_TOTALS = (
    "COALESCE(SUM(r.cost_usd), 0.0) AS usd, COALESCE(SUM(r.prompt_tokens + r.completion_tokens), 0) AS tokens"
)
# What the model's replies used since $1: everyone's, and one user's ($2 platform, $3 user id),
# found through the user's own messages (messages_by_user), then their replies.
SPENT_BY_ALL = f"SELECT {_TOTALS} FROM messages r WHERE r.model IS NOT NULL AND r.created_at >= $1"
SPENT_BY_USER = (
    f"SELECT {_TOTALS} FROM messages q JOIN messages r ON r.reply_to = q.id"
    " WHERE q.role = 'user' AND q.platform = $2 AND q.user_id = $3"
    " AND r.model IS NOT NULL AND r.created_at >= $1"
)


class PostgresStats(PostgresConnection):
    """The reporting part of `PostgresStore`."""

    async def _by_model(self) -> list[ModelStats]:
        rows = await self.pool.fetch(
            "SELECT model, COUNT(*) AS replies, COALESCE(SUM(prompt_tokens), 0) AS prompt,"
            " COALESCE(SUM(completion_tokens), 0) AS completion, COALESCE(SUM(cost_usd), 0.0) AS cost"
            " FROM messages WHERE model IS NOT NULL GROUP BY model ORDER BY model"
        )
        return [
            ModelStats(
                model=r["model"],
                replies=int(r["replies"]),
                prompt_tokens=int(r["prompt"]),
                completion_tokens=int(r["completion"]),
                cost_usd=float(r["cost"]),
            )
            for r in rows
        ]

    async def stats(self) -> Stats:
        counts = await self.pool.fetchrow(
            "SELECT (SELECT COUNT(*) FROM conversations) AS conversations,"
            " (SELECT COUNT(*) FROM messages) AS messages"
        )
        assert counts is not None
        by_model = await self._by_model()
        timings = await self.pool.fetch("SELECT requested_at, claimed_at, resolved_at FROM escalations")
        return Stats(
            conversations=int(counts["conversations"]),
            messages=int(counts["messages"]),
            by_model=by_model,
            escalations=len(timings),
            open_escalations=sum(1 for t in timings if t["resolved_at"] is None),
            seconds_to_claim=[
                (t["claimed_at"] - t["requested_at"]).total_seconds() for t in timings if t["claimed_at"]
            ],
            seconds_to_resolve=[
                (t["resolved_at"] - t["requested_at"]).total_seconds() for t in timings if t["resolved_at"]
            ],
        )

    async def cost_since(self, since: datetime) -> float:
        total = await self.pool.fetchval(
            "SELECT COALESCE(SUM(cost_usd), 0.0) FROM messages"
            " WHERE cost_usd IS NOT NULL AND created_at >= $1",
            since,
        )
        return float(total)

    async def ping(self) -> None:
        await self.pool.fetchval("SELECT 1")

    async def probe_write(self) -> None:
        """Write a row in a transaction that is rolled back: nothing stays behind."""
        async with self.pool.acquire() as conn:
            tx = conn.transaction()
            await tx.start()
            try:
                await conn.execute("CREATE TEMPORARY TABLE write_probe (x INTEGER) ON COMMIT DROP")
                await conn.execute("INSERT INTO write_probe VALUES (1)")
                # A real table too: proves this user may write the store's tables, not only temp ones.
                await conn.execute("UPDATE schema_versions SET version = version WHERE name = 'store'")
            finally:
                await tx.rollback()

    async def pending_replies(self) -> int:
        # Counted by the partial index (migration 3), so a scrape costs the same at any size.
        return int(await self.pool.fetchval("SELECT COUNT(*) FROM messages WHERE status = 'pending'"))

    async def spent_since(self, since: datetime, user: tuple[str, str] | None = None) -> Spent:
        if user is None:
            row = await self.pool.fetchrow(SPENT_BY_ALL, since)
        else:
            row = await self.pool.fetchrow(SPENT_BY_USER, since, user[0], user[1])
        assert row is not None
        return Spent(float(row["usd"]), int(row["tokens"]))
