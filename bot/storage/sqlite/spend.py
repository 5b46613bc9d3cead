"""The SQLite store's holds on today's spend, kept in memory: one process has the file to itself, so
what it counts is everything (read from the replies once a day, then counted up as calls settle)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from itertools import count
from pathlib import Path

from bot.storage.migrations import MigrationSet
from bot.storage.sqlite.schema import STORE
from bot.storage.sqlite.stats import SQLiteStats
from bot.storage.store import NO_SPEND, SpendHold, SpendLedger, SpendRoom, Spent

User = tuple[str, str]


def _add(a: Spent, b: Spent) -> Spent:
    return Spent(a.cost_usd + b.cost_usd, a.tokens + b.tokens)


@dataclass
class _Tally:
    """One UTC day's use (everyone's, and each user's asked so far) and the holds under way."""

    since: datetime | None = None
    used: Spent = field(default_factory=lambda: Spent(0.0, 0))
    users: dict[User, Spent] = field(default_factory=dict)
    holds: dict[int, SpendHold] = field(default_factory=dict)
    ids: count[int] = field(default_factory=lambda: count(1))

    def ledger(self, used: Spent, user: User | None) -> SpendLedger:
        held = [h.worst for h in self.holds.values() if user is None or h.user == user]
        total = Spent(sum(w.cost_usd for w in held), sum(w.tokens for w in held))
        return SpendLedger(used, total, len(held))


class SQLiteSpend(SQLiteStats):
    """The spend-holding part of `SQLiteStore`."""

    def __init__(self, path: Path, schema: MigrationSet | None = STORE) -> None:
        super().__init__(path, schema)
        self._tally = _Tally()

    async def hold_spend(self, hold: SpendHold, room: SpendRoom) -> int | str:
        tally = self._tally
        if tally.since != hold.since:  # a new day: read what was used since it began
            used = await self.spent_since(hold.since)
            if tally.since != hold.since:  # else another call read it while we waited (and counted since)
                tally.since, tally.used, tally.users = hold.since, used, {}
        mine = tally.users.get(hold.user) if hold.per_user else NO_SPEND.used
        if mine is None:  # the user's first call today: what their replies used since it began
            mine = tally.users.setdefault(hold.user, await self.spent_since(hold.since, hold.user))
        # From here to the hold nothing awaits: no other call can slip in between check and hold.
        theirs = tally.ledger(mine, hold.user) if hold.per_user else NO_SPEND
        reason = room(tally.ledger(tally.used, None), theirs)
        if reason is not None:
            return reason
        hold_id = next(tally.ids)
        tally.holds[hold_id] = hold
        return hold_id

    async def release_spend(self, hold_id: int, used: Spent) -> None:
        tally = self._tally
        hold = tally.holds.pop(hold_id, None)
        if hold is None or hold.since != tally.since:
            return  # unknown, or held yesterday: today's figures were read from the replies
        tally.used = _add(tally.used, used)
        if hold.user in tally.users:
            tally.users[hold.user] = _add(tally.users[hold.user], used)
