"""The fake model's behaviour for the analytics tests: it cites the passages it is given (or not,
when asked to), says it found nothing without them, and drafts learned entries as JSON."""

from __future__ import annotations

import json
from typing import Any

from bot.analytics.learning import DRAFT_PROMPT

NOT_FOUND = "I couldn't find that in our documentation."
UNCITED = "It may work somehow."


def _reference(request: dict[str, Any]) -> str:
    return next((str(m["content"]) for m in request["messages"] if "<reference-" in str(m["content"])), "")


def support_model(request: dict[str, Any]) -> str:
    messages = request["messages"]
    if not request.get("stream"):
        if messages[0]["content"] == DRAFT_PROMPT:
            exchange = str(messages[-1]["content"])
            question = exchange.split("\n\n", 1)[0].removeprefix("Customer: ")
            answer = exchange.split("Support team: ", 1)[1]
            return json.dumps({"question": question.capitalize(), "answer": answer})
        return "The customer needs help."  # the card's summary
    question = str(messages[-1]["content"])
    reference = _reference(request)
    if "uncited" in question:
        return UNCITED
    if not reference:
        return NOT_FOUND
    return f"Here is what our help center says [1]. ({question})"
