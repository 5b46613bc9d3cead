"""Human handoff: the bot → waiting → human → resolved (→ bot) state machine and who may move it.

Entry points (slash commands, buttons, shortcuts) live in the adapters and call this; the texts
returned are what the person who acted should be told.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from openai.types.chat import ChatCompletionToolParam

from bot.events import ThreadKey
from bot.settings import EscalationSettings
from bot.store import ConversationStore, EscalationRecord

TOOL_NAME = "escalate_to_human"
# Offered to the model in every request, so it can hand over on its own judgement.
ESCALATE_TOOL: ChatCompletionToolParam = {
    "type": "function",
    "function": {
        "name": TOOL_NAME,
        "description": (
            "Hand this conversation to a person on the support team. Call it when the user asks"
            " for a person, when the request needs access to their account or an action you"
            " cannot take, or when you have tried twice and still not helped."
        ),
        "parameters": {
            "type": "object",
            "properties": {
                "reason": {"type": "string", "description": "One sentence for staff: what the user needs."}
            },
            "required": ["reason"],
        },
    },
}


def tool_reason(arguments: str) -> str:
    """The reason from the tool call's JSON arguments (the raw text if the model wrote bad JSON)."""
    try:
        parsed = json.loads(arguments or "{}")
    except json.JSONDecodeError:
        return arguments.strip()
    return str(parsed.get("reason", "")).strip() if isinstance(parsed, dict) else ""


class EscalationError(Exception):
    """An action that isn't allowed now; the message is fit to show the person who tried it."""


@dataclass(frozen=True, slots=True)
class Outcome:
    record: EscalationRecord
    key: ThreadKey
    message: str  # for the person who acted (ephemeral where the platform allows)


class Escalations:
    """Moves conversations between the bot and staff, enforcing who may do what."""

    def __init__(self, store: ConversationStore, settings: EscalationSettings) -> None:
        self._store = store
        self._settings = settings

    def is_staff(self, user_id: str, role_ids: tuple[str, ...] = ()) -> bool:
        return user_id in self._settings.staff_user_ids or any(
            r in self._settings.staff_role_ids for r in role_ids
        )

    def wants_human(self, text: str) -> bool:
        """True when the text contains one of the configured escalation keywords."""
        lowered = text.lower()
        return any(k.lower() in lowered for k in self._settings.keywords)

    async def escalate(self, key: ThreadKey, *, user_id: str, reason: str, trigger: str) -> Outcome:
        conv = await self._store.ensure_conversation(key)
        record = await self._store.open_escalation(
            conv.id, reason=reason.strip(), trigger=trigger, requested_by=user_id
        )
        if record is None:
            raise EscalationError("This conversation is already with our team; someone will reply here.")
        return Outcome(
            record,
            key,
            "I've asked a person from our team to take over this conversation. They'll reply"
            " here; until then I'll stay quiet.",
        )

    async def claim(self, key: ThreadKey, *, staff_id: str, role_ids: tuple[str, ...] = ()) -> Outcome:
        conv = await self._staff_conversation(key, staff_id, role_ids, "claim")
        record = await self._store.claim_escalation(conv, staff_id)
        if record is None:
            raise EscalationError("There is no unclaimed escalation in this conversation.")
        return Outcome(record, key, "You've claimed this conversation.")

    async def resolve(self, key: ThreadKey, *, staff_id: str, role_ids: tuple[str, ...] = ()) -> Outcome:
        conv = await self._staff_conversation(key, staff_id, role_ids, "resolve")
        record = await self._store.resolve_escalation(conv, staff_id)
        if record is None:
            raise EscalationError("This conversation isn't escalated, so there is nothing to resolve.")
        return Outcome(record, key, "Resolved: the bot is answering in this conversation again.")

    async def _staff_conversation(
        self, key: ThreadKey, staff_id: str, role_ids: tuple[str, ...], action: str
    ) -> int:
        if not self.is_staff(staff_id, role_ids):
            raise EscalationError(f"Only support staff can {action} escalations.")
        conv = await self._store.find_conversation(key)
        if conv is None:
            raise EscalationError("I don't know this conversation.")
        return conv.id
