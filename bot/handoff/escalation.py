"""Human handoff: the bot → waiting → human → resolved (→ bot) state machine and who may move it.

Entry points (slash commands, buttons, shortcuts) live in the adapters and call this; the texts
returned are what the person who acted should be told.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # types only: the SDK is not loaded for them
    from openai.types.chat import ChatCompletionToolParam

from bot.events import ThreadKey
from bot.handoff.states import Trigger
from bot.ops.metrics import Metrics
from bot.settings import EscalationSettings
from bot.storage.store import ConversationStore, EscalationRecord

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


class EscalationListener(Protocol):
    """Told of every change (the handoff: staff cards, notes, telling the user)."""

    async def escalated(self, outcome: Outcome) -> str:
        """Returns what the user should be told."""
        ...

    async def claimed(self, outcome: Outcome, staff_name: str) -> None: ...

    async def resolved(self, outcome: Outcome, staff_name: str) -> None: ...


class Escalations:
    """Moves conversations between the bot and staff, enforcing who may do what."""

    def __init__(
        self,
        store: ConversationStore,
        settings: EscalationSettings,
        listener: EscalationListener | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self._store = store
        self._settings = settings
        self._listener = listener
        self._metrics = metrics if metrics is not None else Metrics()

    def is_staff(self, user_id: str, role_ids: tuple[str, ...] = ()) -> bool:
        # role_ids: the Discord roles a member has, or the Slack staff group when the user is in it.
        group = self._settings.staff_group_id
        return user_id in self._settings.staff_user_ids or any(
            r in self._settings.staff_role_ids or (group and r == group) for r in role_ids
        )

    def wants_human(self, text: str) -> bool:
        """True when the text contains one of the configured escalation keywords."""
        lowered = text.lower()
        return any(k.lower() in lowered for k in self._settings.keywords)

    async def escalate(self, key: ThreadKey, *, user_id: str, reason: str, trigger: Trigger) -> Outcome:
        conv = await self._store.ensure_conversation(key)
        record = await self._store.open_escalation(
            conv.id, reason=reason.strip(), trigger=trigger, requested_by=user_id
        )
        if record is None:
            raise EscalationError("This conversation is already with our team; someone will reply here.")
        self._metrics.escalations.labels(trigger.value).inc()
        outcome = Outcome(
            record,
            key,
            "I've asked a person from our team to take over this conversation. They'll reply"
            " here; until then I'll stay quiet.",
        )
        if self._listener is not None:
            outcome = Outcome(record, key, await self._listener.escalated(outcome))
        return outcome

    async def claim(
        self, key: ThreadKey, *, staff_id: str, role_ids: tuple[str, ...] = (), staff_name: str = ""
    ) -> Outcome:
        conv = await self._staff_conversation(key, staff_id, role_ids, "claim")
        record = await self._store.claim_escalation(conv, staff_id)
        if record is None:
            raise EscalationError("There is no unclaimed escalation in this conversation.")
        outcome = Outcome(record, key, "You've claimed this conversation.")
        if self._listener is not None:
            await self._listener.claimed(outcome, staff_name or staff_id)
        return outcome

    async def resolve(
        self, key: ThreadKey, *, staff_id: str, role_ids: tuple[str, ...] = (), staff_name: str = ""
    ) -> Outcome:
        conv = await self._staff_conversation(key, staff_id, role_ids, "resolve")
        record = await self._store.resolve_escalation(conv, staff_id)
        if record is None:
            raise EscalationError("This conversation isn't escalated, so there is nothing to resolve.")
        outcome = Outcome(record, key, "Resolved: the bot is answering in this conversation again.")
        if self._listener is not None:
            await self._listener.resolved(outcome, staff_name or staff_id)
        return outcome

    async def key_of(self, escalation_id: int) -> ThreadKey:
        """The conversation of an escalation (card buttons carry the escalation id)."""
        found = await self._store.escalation(escalation_id)
        if found is None:
            raise EscalationError("I don't know that escalation.")
        if found[0].resolved_at is not None:  # a stale card must not act on a later escalation
            raise EscalationError(
                "That escalation is already resolved; its conversation is back with the bot."
            )
        return found[1]

    async def _staff_conversation(
        self, key: ThreadKey, staff_id: str, role_ids: tuple[str, ...], action: str
    ) -> int:
        if not self.is_staff(staff_id, role_ids):
            raise EscalationError(f"Only support staff can {action} escalations.")
        conv = await self._store.find_conversation(key)
        if conv is None:
            raise EscalationError("I don't know this conversation.")
        return conv.id
