"""One reminder per escalation, whichever instance's reminder pass gets there first (every backend)."""

from __future__ import annotations

from bot.events import ThreadKey
from bot.handoff.states import Trigger
from bot.storage.store import ConversationStore


async def test_an_escalation_is_marked_reminded_once(store: ConversationStore) -> None:
    conv = await store.ensure_conversation(ThreadKey("slack", "T1", "C1", "1.1"))
    record = await store.open_escalation(conv.id, reason="r", trigger=Trigger.COMMAND, requested_by="U1")
    assert record is not None
    assert await store.mark_reminded(record.id)
    assert not await store.mark_reminded(record.id)  # a second pass (another instance) posts nothing
