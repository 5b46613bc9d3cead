"""Copy an SQLite store's conversations into an empty Postgres store: every row, ids and times kept.

Both stores are opened (and so migrated) first; the copy is one Postgres transaction, so a failure
leaves the target as empty as it was. The SQLite file is only read, and keeps the knowledge base's
index (which stays per instance; see README, "Postgres and several instances").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.storage.postgres import PostgresStore
from bot.storage.postgres.rows import storable
from bot.storage.sqlite import SQLiteStore

BATCH = 5000


def _time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _text(value: Any) -> Any:
    return storable(value) if isinstance(value, str) else value


@dataclass(frozen=True, slots=True)
class _Table:
    name: str
    columns_text: str  # the column names, space-separated
    times: frozenset[str] = frozenset()  # ISO text in SQLite, timestamptz in Postgres
    flags: frozenset[str] = frozenset()  # 0/1 in SQLite, boolean in Postgres
    order: str = "id"

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(self.columns_text.split())

    def converter(self) -> Callable[[Iterable[Any]], tuple[Any, ...]]:
        kinds = [(_time if c in self.times else bool if c in self.flags else _text) for c in self.columns]
        return lambda row: tuple(kind(value) for kind, value in zip(kinds, row, strict=True))


# Parents before children, so every foreign key finds its row.
TABLES = (
    _Table(
        "conversations",
        "id platform workspace channel thread state created_at updated_at",
        times=frozenset({"created_at", "updated_at"}),
    ),
    _Table(
        "messages",
        "id conversation_id platform platform_message_id role text user_id user_name status error"
        " reply_to tokens model prompt_tokens completion_tokens cost_usd created_at updated_at"
        " shown_as attempts retry_at",
        times=frozenset({"created_at", "updated_at", "retry_at"}),
    ),
    _Table(
        "escalations",
        "id conversation_id state reason trigger requested_by requested_at claimed_by claimed_at"
        " resolved_by resolved_at staff_platform staff_channel staff_thread relay reminded_at"
        " satisfaction",
        times=frozenset({"requested_at", "claimed_at", "resolved_at", "reminded_at"}),
        flags=frozenset({"relay"}),
    ),
    _Table(
        "feedback",
        "message_id user_id value created_at",
        times=frozenset({"created_at"}),
        order="message_id, user_id",
    ),
    _Table(
        "answer_facts",
        "message_id grounding sign_s first_token_s complete_s",
        order="message_id",
    ),
    _Table(
        "solved",
        "message_id user_id created_at",
        times=frozenset({"created_at"}),
        order="message_id, user_id",
    ),
    _Table(
        "learned_entries",
        "id escalation_id conversation_id question answer drafted_by status created_at decided_at decided_by",
        times=frozenset({"created_at", "decided_at"}),
    ),
)
IDENTITY_TABLES = ("conversations", "messages", "escalations", "learned_entries")


class CopyError(Exception):
    """The copy can't start (the target is not empty); the message is one line."""


async def copy_sqlite_to_postgres(source: SQLiteStore, target: PostgresStore) -> dict[str, int]:
    """Copy every row of `source` into `target`, which must hold no conversation yet; returns the
    rows copied per table."""
    if await target.pool.fetchval("SELECT EXISTS (SELECT 1 FROM conversations)"):
        raise CopyError(f"{target.describe()} already holds conversations; copy into an empty database")
    copied: dict[str, int] = {}
    async with target.pool.acquire() as conn, conn.transaction():
        for table in TABLES:
            convert = table.converter()
            copied[table.name] = 0
            cursor = await source.db.execute(
                f"SELECT {', '.join(table.columns)} FROM {table.name} ORDER BY {table.order}"
            )
            while rows := list(await cursor.fetchmany(BATCH)):
                await conn.copy_records_to_table(
                    table.name, records=[convert(r) for r in rows], columns=list(table.columns)
                )
                copied[table.name] += len(rows)
            await cursor.close()
        for name in IDENTITY_TABLES:
            # New rows continue after the copied ids.
            await conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{name}', 'id'),"
                f" COALESCE((SELECT MAX(id) FROM {name}), 0) + 1, false)"
            )
    return copied
