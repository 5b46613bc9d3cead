"""Rows of the SQLite store's tables turned into the store's records, and timestamps as they are stored."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from bot.events import ThreadKey
from bot.handoff.states import ConversationState, EscalationState, Trigger
from bot.storage.store import Conversation, EscalationRecord, MessageStatus, Role, StoredMessage

MESSAGE_COLUMNS = (
    "id, conversation_id, role, text, user_id, user_name, status, tokens, created_at,"
    " platform_message_id, error, shown_as"
)
MESSAGE_FIELDS = len(MESSAGE_COLUMNS.split(","))

ESCALATION_COLUMNS = (
    "id, conversation_id, state, reason, trigger, requested_by, requested_at, claimed_by,"
    " claimed_at, resolved_by, resolved_at, staff_platform, staff_channel, staff_thread, relay,"
    " satisfaction"
)
ESCALATION_FIELDS = len(ESCALATION_COLUMNS.split(","))

CONVERSATION_COLUMNS = "id, platform, workspace, channel, thread, state, created_at, updated_at"

THREAD_KEY_COLUMNS = "c.platform, c.workspace, c.channel, c.thread"  # of conversations joined as `c`


def prefixed(columns: str, alias: str) -> str:
    """`columns` qualified by a table alias, for joins."""
    return ", ".join(f"{alias}.{c.strip()}" for c in columns.split(","))


def now() -> str:
    return stamp(datetime.now(UTC))


def stamp(when: datetime) -> str:
    """How a moment is stored: UTC ISO 8601 with microseconds, so text order is time order."""
    return when.astimezone(UTC).isoformat(timespec="microseconds")


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def message(row: Iterable[Any]) -> StoredMessage:
    (id_, conv, role, text, user_id, user_name, status, tokens, created, pmid, error, shown) = row
    return StoredMessage(
        id=id_,
        conversation_id=conv,
        role=Role(role),
        text=text,
        user_id=user_id,
        user_name=user_name,
        status=MessageStatus(status),
        tokens=tokens,
        created_at=datetime.fromisoformat(created),
        platform_message_id=pmid,
        error=error,
        shown_as=tuple(shown.split()) if shown else (),
    )


def conversation(row: Iterable[Any]) -> Conversation:
    (id_, platform, workspace, channel, thread, state, created, updated) = row
    return Conversation(
        id=id_,
        key=ThreadKey(platform, workspace, channel, thread),
        state=ConversationState(state),
        created_at=datetime.fromisoformat(created),
        updated_at=datetime.fromisoformat(updated),
    )


def escalation(row: Iterable[Any]) -> EscalationRecord:
    (id_, conv, state, reason, trigger, by, at, c_by, c_at, r_by, r_at, s_pf, s_ch, s_th, relay, sat) = row
    return EscalationRecord(
        id=id_,
        conversation_id=conv,
        state=EscalationState(state),
        reason=reason,
        trigger=Trigger(trigger),
        requested_by=by,
        requested_at=datetime.fromisoformat(at),
        claimed_by=c_by,
        claimed_at=_when(c_at),
        resolved_by=r_by,
        resolved_at=_when(r_at),
        staff_platform=s_pf,
        staff_channel=s_ch,
        staff_thread=s_th,
        relay=bool(relay),
        satisfaction=sat,
    )
