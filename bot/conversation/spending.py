"""What answers cost: pricing a call's token usage, and today's total against llm.daily_budget_usd."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

from bot.events import Usage
from bot.llm.client import CompletionUsage
from bot.settings import ModelInfo
from bot.storage.store import ConversationStore


def price(usage: CompletionUsage | None, models: dict[str, ModelInfo]) -> Usage | None:
    """The call's usage with its USD cost (None when the model has no price in [models])."""
    if usage is None:
        return None
    info = models.get(usage.model)
    cost = None
    if info is not None:
        cost = (usage.prompt_tokens * info.input_per_1k + usage.completion_tokens * info.output_per_1k) / 1000
    return Usage(usage.model, usage.prompt_tokens, usage.completion_tokens, cost)


class DailySpend:
    """Today's LLM cost: read from the store once a day, then counted up as answers are priced."""

    def __init__(self, store: ConversationStore, cap_usd: float, today: Callable[[], date]) -> None:
        self._store = store
        self._cap = cap_usd
        self._today = today
        self._spent: tuple[date, float] | None = None  # (day, USD spent that day)

    async def over_budget(self) -> bool:
        """True once today's recorded cost reaches the cap (0 = no cap)."""
        if self._cap <= 0:
            return False
        today = self._today()
        if self._spent is None or self._spent[0] != today:
            since = datetime(today.year, today.month, today.day, tzinfo=UTC)
            self._spent = (today, await self._store.cost_since(since))
        return self._spent[1] >= self._cap

    def add(self, usage: Usage | None) -> None:
        if usage is not None and usage.cost_usd and self._spent is not None:
            self._spent = (self._spent[0], self._spent[1] + usage.cost_usd)
