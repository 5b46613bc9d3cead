"""Text any platform may send is stored on every backend (see conftest.py), NUL included."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.events import IncomingMessage, ThreadKey
from bot.storage.store import ConversationStore


async def test_a_nul_character_in_a_message_does_not_stop_it_being_stored(store: ConversationStore) -> None:
    key = ThreadKey("discord", "G1", "C1", "T1")
    msg = IncomingMessage(key, "m-nul", "U1", "A\x00da", "before\x00after", False, datetime.now(UTC))
    stored = await store.record_inbound(msg, tokens=2)
    assert stored is not None
    [kept] = await store.messages(stored.conversation_id, 5)
    assert kept.text.startswith("before") and kept.text.endswith("after") and len(kept.text) == 12
