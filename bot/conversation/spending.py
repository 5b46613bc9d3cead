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
    """Today's LLM cost against llm.daily_budget_usd: what was recorded (read from the store once a
    day, then counted up) plus what answers under way have reserved for their worst case."""

    def __init__(
        self,
        store: ConversationStore,
        cap_usd: float,
        today: Callable[[], date],
        model: ModelInfo | None = None,
    ) -> None:
        self._store = store
        self._cap = cap_usd
        self._today = today
        self._model = model  # the configured model's prices; None: unpriced, never capped
        self._spent: tuple[date, float] | None = None  # (day, USD spent that day)
        self._reserved = 0.0  # USD held by answers under way

    def worst_case(self, prompt_tokens: int, max_tokens: int) -> float:
        """The most a call can cost: its prompt and the longest answer allowed."""
        if self._model is None:
            return 0.0
        return (prompt_tokens * self._model.input_per_1k + max_tokens * self._model.output_per_1k) / 1000

    async def _spent_today(self) -> float:
        today = self._today()
        # A shared store's total includes other instances' answers: read it fresh each time.
        if self._spent is None or self._spent[0] != today or self._store.shared:
            since = datetime(today.year, today.month, today.day, tzinfo=UTC)
            self._spent = (today, await self._store.cost_since(since))
        return self._spent[1]

    async def reserve(self, worst_usd: float) -> bool:
        """Hold `worst_usd` for a call about to start; False (nothing held) once today's cost reached
        the cap, or when it would not fit beside the calls already under way. A lone call may start
        below the cap whatever its worst case, so the cap is passed by one answer at most."""
        if self._cap <= 0:
            return True
        spent = await self._spent_today()
        if spent >= self._cap or (self._reserved and spent + self._reserved + worst_usd > self._cap):
            return False
        self._reserved += worst_usd
        return True

    def settle(self, worst_usd: float, usage: Usage | None) -> None:
        """The call is over: release its hold and count what it really cost."""
        if self._cap <= 0:
            return
        self._reserved = max(0.0, self._reserved - worst_usd)
        if usage is not None and usage.cost_usd and self._spent is not None:
            self._spent = (self._spent[0], self._spent[1] + usage.cost_usd)
