"""What the model reads: today's system prompt, the help-center passages for a message, and as much
recent history as fits the context window."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from bot.conversation.prompt import render_system_prompt
from bot.kb import KnowledgeBase, SearchResult
from bot.kb.query import query_terms
from bot.llm.tokens import TokenCounter
from bot.settings import Settings
from bot.storage.store import Role, StoredMessage

FOLLOW_UP_TERMS = 2  # a message with this few search terms may be a follow-up ("and on mobile?")


class SystemPrompt:
    """The team's prompt with {bot_name}, {company} and {date} filled in, rendered once a day."""

    def __init__(
        self, template: str, settings: Settings, counter: TokenCounter, today: Callable[[], date]
    ) -> None:
        self._template = template
        self._settings = settings
        self._counter = counter
        self._today = today
        self._cached: tuple[date, str, int] | None = None  # (day, rendered prompt, its tokens)

    def today(self) -> tuple[str, int]:
        """Today's rendered prompt and its token count."""
        day = self._today()
        if self._cached is None or self._cached[0] != day:
            text = render_system_prompt(
                self._template,
                bot_name=self._settings.bot.name,
                company=self._settings.bot.company,
                today=day,
            )
            self._cached = (day, text, self._counter.count(text))
        return self._cached[1], self._cached[2]


async def retrieve(
    kb: KnowledgeBase | None, text: str, newest_first: list[StoredMessage]
) -> SearchResult | None:
    """Help-center pages for this message; a follow-up ("and on mobile?") that finds nothing on its
    own is searched again together with the user's previous message."""
    if kb is None:
        return None
    found = await kb.search(text)
    previous = next((t for t in newest_first if t.role is Role.USER), None)
    # Only short messages lean on the previous one: a new full question stands on its own.
    if found.abstain and previous is not None and len(query_terms(text)) <= FOLLOW_UP_TERMS:
        again = await kb.search(f"{previous.text}\n{text}")
        if not again.abstain:
            return again
    return found


def spoken(turn: StoredMessage) -> str:
    """A turn's text as the model reads it: what staff wrote during a handoff says who wrote it."""
    if turn.role is Role.STAFF:
        return f"[{turn.user_name or 'A person'} from our support team wrote:] {turn.text}"
    return turn.text


def fit_history(newest_first: list[StoredMessage], budget: int) -> list[StoredMessage]:
    """The newest turns that fit in `budget` tokens, oldest first; older turns are dropped."""
    kept: list[StoredMessage] = []
    for turn in newest_first:
        if turn.tokens > budget:
            break
        budget -= turn.tokens
        kept.append(turn)
    kept.reverse()
    # A reply without its question reads oddly to the model: start on a user turn.
    while kept and kept[0].role is not Role.USER:
        kept.pop(0)
    return kept
