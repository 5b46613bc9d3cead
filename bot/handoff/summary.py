"""The summary on a handoff card: a few sentences from the model, or the last messages without one."""

from __future__ import annotations

import logging

from bot.llm.client import LLMClient, LLMError
from bot.storage.store import ConversationStore, Role

log = logging.getLogger(__name__)

SUMMARY_PROMPT = (
    "You hand a customer-support conversation over to a colleague. In two to four sentences say"
    " what the customer wants, what has been tried, and what is still open. Plain text only."
)


async def summarise(
    store: ConversationStore, llm: LLMClient | None, conversation_id: int, requested_by: str, count: int
) -> tuple[str, str]:
    """A short LLM summary (the last messages verbatim without one), and the user's name."""
    messages = await store.messages(conversation_id, count)
    dialogue = [m for m in messages if m.role in (Role.USER, Role.ASSISTANT)]
    user_name = next(
        (m.user_name or m.user_id for m in reversed(dialogue) if m.role is Role.USER),
        requested_by,
    )
    transcript = "\n".join(
        f"{(m.user_name or 'user') if m.role is Role.USER else 'bot'}: {m.text}" for m in dialogue
    )
    if not transcript:
        return "(no messages yet)", user_name
    if llm is not None:
        try:
            text = await llm.complete(
                [
                    {"role": "system", "content": SUMMARY_PROMPT},
                    {"role": "user", "content": transcript},
                ]
            )
            if text.strip():
                return text.strip(), user_name
        except LLMError as exc:
            log.warning("handoff summary unavailable: %s", exc)
    last = "\n".join(transcript.splitlines()[-5:])
    return f"Last messages:\n{last}", user_name
