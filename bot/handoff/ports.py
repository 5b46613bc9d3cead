"""What the handoff needs from each platform (`PlatformPort`), and the card it asks them to post."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bot.events import ReplyDone, ThreadKey
from bot.handoff.states import Trigger


@dataclass(frozen=True, slots=True)
class StaffCard:
    """What staff see when a conversation is handed over."""

    escalation_id: int
    key: ThreadKey  # the user's conversation
    user_name: str
    reason: str
    trigger: Trigger
    summary: str
    link: str | None  # Slack permalink / Discord jump URL of the conversation
    in_hours: bool
    relay: bool = False  # a DM: staff reply in the card's thread and messages are relayed both ways


class PlatformPort(Protocol):
    """What the handoff needs from a platform adapter."""

    platform: str

    def is_private(self, key: ThreadKey) -> bool:
        """True for DMs: staff can't see them, so messages are relayed through the staff thread."""
        ...

    async def conversation_link(self, key: ThreadKey) -> str | None: ...

    def started_at(self, key: ThreadKey) -> str:
        """The moment the conversation began, written so each reader sees it in their own time zone."""
        ...

    async def post_staff_card(self, channel: str, card: StaffCard) -> str:
        """Post the card (with Claim and Resolve buttons, staff mentioned); return its thread id."""
        ...

    async def post_staff_note(self, channel: str, thread: str, text: str) -> None: ...

    async def send_to_user(self, key: ThreadKey, text: str, *, rate_escalation: int | None = None) -> None:
        """Post into the user's conversation; with `rate_escalation`, add 1–5 rating buttons."""
        ...

    async def send_answer(self, key: ThreadKey, done: ReplyDone) -> str:
        """Post a bot answer (Markdown) that was not streamed, formatted and with the buttons a live
        answer gets; returns the message id a live answer would record."""
        ...
