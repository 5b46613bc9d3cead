"""One schema migration runner for every backend and every set of tables (the store's, the knowledge base's).

A `MigrationSet` is a named, ordered list of versioned migrations. `migrate` brings a database's copy
of one set up to the latest version, each migration in its own transaction together with its
version bump, so a failure leaves the previous version intact. What differs between SQL dialects
(how a transaction is opened, where a set's version is kept) sits behind `MigrationTarget`; the
SQLite one is `bot.storage.sqlite.migrate.SQLiteTarget`.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Migration:
    """Takes a set from `version - 1` to `version`. Append new ones; never edit a released one."""

    version: int
    statements: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class MigrationSet:
    name: str  # "store", "kb": says which tables an error is about
    migrations: tuple[Migration, ...]

    def __post_init__(self) -> None:
        versions = [m.version for m in self.migrations]
        if versions != list(range(1, len(versions) + 1)):
            raise ValueError(f"{self.name} migrations must be numbered 1, 2, 3, …; got {versions}")

    @property
    def latest(self) -> int:
        return len(self.migrations)


class MigrationError(Exception):
    """A schema that cannot be brought to the version this code needs; the message is one line."""


class MigrationTarget(Protocol):
    """One database connection as the runner needs it; each SQL dialect implements this."""

    async def describe(self) -> str:
        """Which database this is, for error messages (e.g. its file)."""
        ...

    async def version(self, name: str) -> int:
        """The version set `name` is at (0: none of its tables exist yet)."""
        ...

    def transaction(self) -> AbstractAsyncContextManager[None]:
        """One write transaction: committed on normal exit, rolled back on an exception."""
        ...

    async def execute(self, statement: str) -> None: ...

    async def set_version(self, name: str, version: int) -> None:
        """Record `version` for set `name`, inside the current transaction."""
        ...


def one_line(exc: BaseException) -> str:
    """An exception's message with its whitespace (newlines included) collapsed."""
    return " ".join(str(exc).split()) or type(exc).__name__


async def migrate(target: MigrationTarget, migrations: MigrationSet) -> int:
    """Apply the migrations `target` lacks, oldest first; returns the version reached."""
    current = await target.version(migrations.name)
    if current > migrations.latest:
        where = await target.describe()
        raise MigrationError(
            f"{where}: {migrations.name} schema version {current} is newer than this supportbot"
            f" supports ({migrations.latest}); upgrade supportbot"
        )
    for migration in migrations.migrations[current:]:
        current = await _apply(target, migrations.name, migration, current)
    return current


async def _apply(target: MigrationTarget, name: str, migration: Migration, current: int) -> int:
    try:
        async with target.transaction():
            # Another process may have migrated since we looked; inside the transaction we know.
            current = await target.version(name)
            if current >= migration.version:
                return current
            for statement in migration.statements:
                await target.execute(statement)
            await target.set_version(name, migration.version)
    except Exception as exc:
        where = await target.describe()
        raise MigrationError(
            f"{where}: {name} schema migration to version {migration.version} failed ({one_line(exc)});"
            f" the schema stays at version {current}"
        ) from exc
    return migration.version
