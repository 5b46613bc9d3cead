"""The system prompt (the team's text with {bot_name}, {company} and {date} filled in) and the
order of messages in a request to the model."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING

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
    """System prompt, earlier turns (is_user, text), reference material (if any), the new question."""
    messages: list[ChatCompletionMessageParam] = [{"role": "system", "content": system}]
    for is_user, text in turns:
        messages.append(
            {"role": "user", "content": text} if is_user else {"role": "assistant", "content": text}
        )
    if material:
        messages.append({"role": "system", "content": material})
    messages.append({"role": "user", "content": question})
    return messages
