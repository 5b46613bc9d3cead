"""How an answer was grounded, decided once from the search result and the answer's citations."""

from __future__ import annotations

from bot.conversation.grounding import sources_footer
from bot.kb import SearchResult
from bot.storage.store import Grounding


def grounding_of(found: SearchResult | None, answer: str) -> Grounding:
    """A model's answer: cited passages, had passages but cited none, or had nothing to cite."""
    if found is None or found.abstain or not found.hits:
        return Grounding.NOTHING_FOUND
    return Grounding.CITED if sources_footer(answer, found.hits) else Grounding.CITED_NONE
