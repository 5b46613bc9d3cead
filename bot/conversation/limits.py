"""Per-user limits checked before any model call: how many messages a minute, counted in the store."""

from __future__ import annotations

from datetime import timedelta

from bot.storage.store import ConversationStore, StoredMessage

WINDOW = timedelta(seconds=60)


class UserRate:
    """At most `per_minute` messages a user in any 60 s (0 = no limit), counted from the stored
    messages, so every instance on one database shares the count. The message being checked is
    already stored; the ones before it in the window are counted, except those refused as too
    fast (a user who keeps sending is answered again once their counted messages age out)."""

    def __init__(self, store: ConversationStore, per_minute: int) -> None:
        self._store = store
        self._per_minute = per_minute

    async def allow(self, platform: str, message: StoredMessage) -> bool:
        """False when the user already sent `per_minute` messages in the minute before `message`."""
        if self._per_minute <= 0:
            return True
        # The window ends at the message's own stamp: the store's clock, on every instance.
        sent = await self._store.sent_since(
            platform, message.user_id, message.created_at - WINDOW, message.id
        )
        return sent < self._per_minute
