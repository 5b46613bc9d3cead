"""The system prompt: the team's text with {bot_name}, {company} and {date} filled in."""

from __future__ import annotations

from datetime import date


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
