"""Rows of the Postgres store's tables turned into the store's records, and text made storable."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg

from bot.events import ThreadKey
from bot.handoff.states import ConversationState, EscalationState, Trigger
from bot.storage.store import Conversation, EscalationRecord, MessageStatus, Role, StoredMessage

MESSAGE_COLUMNS = (
    "id, conversation_id, role, text, user_id, user_name, status, tokens, created_at,"
    " platform_message_id, error, shown_as"
)
ESCALATION_COLUMNS = (
    "id, conversation_id, state, reason, trigger, requested_by, requested_at, claimed_by,"
    " claimed_at, resolved_by, resolved_at, staff_platform, staff_channel, staff_thread, relay,"
    " satisfaction"
)
CONVERSATION_COLUMNS = "id, platform, workspace, channel, thread, state, created_at, updated_at"
# Of conversations joined as `c`, named so they can't clash with the other table's columns.
THREAD_KEY_COLUMNS = (
    "c.platform AS k_platform, c.workspace AS k_workspace, c.channel AS k_channel, c.thread AS k_thread"
)


def prefixed(columns: str, alias: str) -> str:
    """`columns` qualified by a table alias, for joins."""
    return ", ".join(f"{alias}.{c.strip()}" for c in columns.split(","))


def aliased(columns: str, alias: str, prefix: str) -> str:
    """`columns` of table alias `alias` renamed `prefix` + name, for a join reading one table twice."""
    return ", ".join(f"{alias}.{c.strip()} AS {prefix}{c.strip()}" for c in columns.split(","))


def now() -> datetime:
    return datetime.now(UTC)


def storable(text: str) -> str:
    """Postgres text cannot hold NUL, which SQLite and the platforms allow: it becomes U+FFFD."""
    return text.replace("\x00", "\ufffd")


def key_parts(key: ThreadKey) -> tuple[str, str, str, str]:
    """A conversation key as its four stored columns."""
    return (storable(key.platform), storable(key.workspace), storable(key.channel), storable(key.thread))


def changed(status: str) -> int:
    """Rows an INSERT/UPDATE/DELETE touched, from asyncpg's status string ("UPDATE 3")."""
    tail = status.rsplit(" ", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def thread_key(row: asyncpg.Record) -> ThreadKey:
    return ThreadKey(row["k_platform"], row["k_workspace"], row["k_channel"], row["k_thread"])


def message(row: asyncpg.Record, prefix: str = "") -> StoredMessage:
    """A message row; `prefix`: its columns' names start with it (see `aliased`)."""
    shown = row[prefix + "shown_as"]
    return StoredMessage(
        id=row[prefix + "id"],
        conversation_id=row[prefix + "conversation_id"],
        role=Role(row[prefix + "role"]),
        text=row[prefix + "text"],
        user_id=row[prefix + "user_id"],
        user_name=row[prefix + "user_name"],
        status=MessageStatus(row[prefix + "status"]),
        tokens=row[prefix + "tokens"],
        created_at=row[prefix + "created_at"],
        platform_message_id=row[prefix + "platform_message_id"],
        error=row[prefix + "error"],
        shown_as=tuple(shown.split()) if shown else (),
    )


def conversation(row: asyncpg.Record) -> Conversation:
    return Conversation(
        id=row["id"],
        key=ThreadKey(row["platform"], row["workspace"], row["channel"], row["thread"]),
        state=ConversationState(row["state"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def escalation(row: asyncpg.Record) -> EscalationRecord:
    return EscalationRecord(
        id=row["id"],
        conversation_id=row["conversation_id"],
        state=EscalationState(row["state"]),
        reason=row["reason"],
        trigger=Trigger(row["trigger"]),
        requested_by=row["requested_by"],
        requested_at=row["requested_at"],
        claimed_by=row["claimed_by"],
        claimed_at=row["claimed_at"],
        resolved_by=row["resolved_by"],
        resolved_at=row["resolved_at"],
        staff_platform=row["staff_platform"],
        staff_channel=row["staff_channel"],
        staff_thread=row["staff_thread"],
        relay=bool(row["relay"]),
        satisfaction=row["satisfaction"],
    )
