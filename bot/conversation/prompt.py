"""The system prompt (the team's text with {bot_name}, {company} and {date} filled in) and the
order of messages in a request to the model.

The system prompt is the only system message: help-center passages come as a user message of
data (`bot.conversation.grounding.reference_block`), so page text never speaks with the system's
voice; the rules for having no material are ours, so they join the system prompt.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING

from bot.conversation.grounding import NO_MATERIAL_RULES

if TYPE_CHECKING:  # types only: the SDK is not loaded for them
    from openai.types.chat import ChatCompletionMessageParam


def render_system_prompt(template: str, *, bot_name: str, company: str, today: date) -> str:
    # Plain replacement, not str.format: a prompt may contain other braces (JSON, examples).
    values = {
        "{bot_name}": bot_name,
        "{company}": company,
        "{date}": today.strftime("%A, %d %B %Y"),
    }
    for placeholder, value in values.items():
        template = template.replace(placeholder, value)
    return template


def request_messages(
    system: str, turns: Sequence[tuple[bool, str]], material: str, question: str
) -> list[ChatCompletionMessageParam]:
    """System prompt, earlier turns (is_user, text), reference material (if any), the new question.

    `material` is a reference block (sent as data, in a user message just before the question),
    `NO_MATERIAL_RULES` (added to the system prompt) or "" (nothing)."""
    if material == NO_MATERIAL_RULES:
        system, material = f"{system}\n\n{material}", ""
    messages: list[ChatCompletionMessageParam] = [{"role": "system", "content": system}]
    for is_user, text in turns:
        messages.append(
            {"role": "user", "content": text} if is_user else {"role": "assistant", "content": text}
        )
    if material:
        messages.append({"role": "user", "content": material})
    messages.append({"role": "user", "content": question})
    return messages
