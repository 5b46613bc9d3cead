"""The SQLite store's figures (counts, tokens and cost per model, escalation timings, spend since a
moment, the outbox depth) and its write probe for `supportbot check --live`."""

from __future__ import annotations

from datetime import datetime

import aiosqlite

from bot.storage.sqlite.connection import SQLiteConnection
from bot.storage.sqlite.rows import stamp
from bot.storage.sqlite.transaction import write_transaction
from bot.storage.store import ModelStats, Spent, Stats


def _seconds(start: str, end: str) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


class _ProbeDone(Exception):
    """Ends the write probe's transaction the only way that rolls it back."""


class SQLiteStats(SQLiteConnection):
    """The reporting part of `SQLiteStore`."""

    async def _count(self, table: str) -> int:
        rows = list(await self.db.execute_fetchall(f"SELECT COUNT(*) FROM {table}"))
        return int(rows[0][0])

    async def _by_model(self) -> list[ModelStats]:
        return [
            ModelStats(
                model=r[0],
                replies=int(r[1]),
                prompt_tokens=int(r[2]),
                completion_tokens=int(r[3]),
                cost_usd=float(r[4]),
            )
            for r in await self.db.execute_fetchall(
                "SELECT model, COUNT(*), COALESCE(SUM(prompt_tokens), 0),"
                " COALESCE(SUM(completion_tokens), 0), COALESCE(SUM(cost_usd), 0.0)"
                " FROM messages WHERE model IS NOT NULL GROUP BY model ORDER BY model"
            )
        ]

    async def stats(self) -> Stats:
        conversations = await self._count("conversations")
        messages = await self._count("messages")
        by_model = await self._by_model()
        timings = list(
            await self.db.execute_fetchall("SELECT requested_at, claimed_at, resolved_at FROM escalations")
        )
        return Stats(
            conversations=conversations,
            messages=messages,
            by_model=by_model,
            escalations=len(timings),
            open_escalations=sum(1 for t in timings if t[2] is None),
            seconds_to_claim=[_seconds(t[0], t[1]) for t in timings if t[1]],
            seconds_to_resolve=[_seconds(t[0], t[2]) for t in timings if t[2]],
        )

    async def ping(self) -> None:
        await self.db.execute_fetchall("SELECT 1")

    async def probe_write(self) -> None:
        """Take the write lock and write a row, then roll it all back: nothing stays behind."""
        try:
            async with write_transaction(self.db, self._write):
                await self.db.execute("CREATE TABLE write_probe (x INTEGER)")
                await self.db.execute("INSERT INTO write_probe VALUES (1)")
                raise _ProbeDone
        except _ProbeDone:
            pass

    async def pending_replies(self) -> int:
        # No index covers the status, so this scans the messages table (bench/bench_ops.py): on a
        # read-only connection of its own, which WAL lets read beside the shared one, so a large
        # table never holds up the queries of answers in flight.
        async with aiosqlite.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True) as reader:
            rows = list(
                await reader.execute_fetchall("SELECT COUNT(*) FROM messages WHERE status = 'pending'")
            )
        return int(rows[0][0])

    async def cost_since(self, since: datetime) -> float:
        rows = list(
            await self.db.execute_fetchall(
                "SELECT COALESCE(SUM(cost_usd), 0.0) FROM messages"
                " WHERE cost_usd IS NOT NULL AND created_at >= ?",
                (stamp(since),),
            )
        )
        return float(rows[0][0])

    async def spent_since(self, since: datetime, user: tuple[str, str] | None = None) -> Spent:
        totals = "COALESCE(SUM(r.cost_usd), 0.0), COALESCE(SUM(r.prompt_tokens + r.completion_tokens), 0)"
        if user is None:
            query = f"SELECT {totals} FROM messages r WHERE r.model IS NOT NULL AND r.created_at >= ?"
            params: tuple[str, ...] = (stamp(since),)
        else:  # through the user's own messages (messages_by_user), then their replies
            query = (
                f"SELECT {totals} FROM messages q JOIN messages r ON r.reply_to = q.id"
                " WHERE q.role = 'user' AND q.platform = ? AND q.user_id = ?"
                " AND r.model IS NOT NULL AND r.created_at >= ?"
            )
            params = (user[0], user[1], stamp(since))
        rows = list(await self.db.execute_fetchall(query, params))
        return Spent(float(rows[0][0]), int(rows[0][1]))
