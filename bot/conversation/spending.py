"""What answers cost, and today's caps on it: llm.daily_budget_usd for everyone, limits.user_daily_usd
for each user, and limits.daily_tokens for a model without a price. Each answer holds its worst
case in the store before the call and settles with what it used, so answers running at once, on
one instance or several sharing the store, can't overshoot."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from bot.conversation.fallback import BUDGET, USER_BUDGET
from bot.events import Usage
from bot.llm.client import CompletionUsage
from bot.settings import ModelInfo, Settings
from bot.storage.store import ConversationStore, SpendHold, SpendLedger, Spent

log = logging.getLogger(__name__)

User = tuple[str, str]  # (platform, user id)

# A hold left by a process that died mid-call stops counting this long after the call's deadline.
LEASE_MARGIN = timedelta(seconds=60)


def price(usage: CompletionUsage | None, models: dict[str, ModelInfo]) -> Usage | None:
    """The call's usage with its USD cost (None when the model has no price in [models])."""
    if usage is None:
        return None
    info = models.get(usage.model)
    cost = None
    if info is not None:
        cost = (usage.prompt_tokens * info.input_per_1k + usage.completion_tokens * info.output_per_1k) / 1000
    return Usage(usage.model, usage.prompt_tokens, usage.completion_tokens, cost)


def unpriced_warning(settings: Settings) -> str | None:
    """The start-up line for a model without a price: its USD caps can't apply, the token cap does."""
    if settings.model_info() is not None:
        return None
    tokens = settings.limits.daily_tokens
    cap = f"limits.daily_tokens = {tokens:,} tokens a day" if tokens else "no cap (limits.daily_tokens = 0)"
    return (
        f"llm.model {settings.llm.model!r} has no price in [models]: llm.daily_budget_usd and"
        f" limits.user_daily_usd can't apply, answers are capped by {cap}"
    )


def fits(cap: float, ledger: SpendLedger, worst: Spent, in_tokens: bool) -> bool:
    """The rule of every cap (0 = none): a lone call may start below the cap whatever its worst
    case, so the cap is passed by one answer at most; beside others, only if all the worst cases
    held and its own fit in what is left."""
    if cap <= 0:
        return True
    used, held, own = (
        (ledger.used.tokens, ledger.held.tokens, worst.tokens)
        if in_tokens
        else (ledger.used.cost_usd, ledger.held.cost_usd, worst.cost_usd)
    )
    return used < cap and (not ledger.holds or used + held + own <= cap)


@dataclass(frozen=True, slots=True)
class Hold:
    """What one call reserved; give it back to `Spending.settle`."""

    id: int | None  # the store's hold; None when no cap applies (nothing was held)


class Spending:
    """Today's caps on model use; `reserve` before a call, `settle` after it."""

    def __init__(self, store: ConversationStore, settings: Settings, today: Callable[[], date]) -> None:
        self._store = store
        self._today = today
        self._model = settings.model_info()  # None: unpriced, capped in tokens instead of USD
        priced = self._model is not None
        self._budget = settings.llm.daily_budget_usd if priced else 0.0
        self._tokens = 0.0 if priced else float(settings.limits.daily_tokens)
        self._user_cap = settings.limits.user_daily_usd if priced else 0.0
        self._lease = timedelta(seconds=settings.llm.answer_deadline_s) + LEASE_MARGIN

    def worst_usd(self, prompt_tokens: int, max_tokens: int) -> float:
        """The most a call can cost: its prompt and the longest answer allowed."""
        if self._model is None:
            return 0.0
        return (prompt_tokens * self._model.input_per_1k + max_tokens * self._model.output_per_1k) / 1000

    async def reserve(self, user: User, prompt_tokens: int, max_tokens: int) -> Hold | str:
        """Hold the call's worst case against every cap; the reason (BUDGET, USER_BUDGET) instead,
        with nothing held, when one of them has no room."""
        if self._budget <= 0 and self._tokens <= 0 and self._user_cap <= 0:
            return Hold(None)
        worst = Spent(self.worst_usd(prompt_tokens, max_tokens), prompt_tokens + max_tokens)
        today = self._today()
        since = datetime(today.year, today.month, today.day, tzinfo=UTC)

        def room(everyone: SpendLedger, mine: SpendLedger) -> str | None:
            if not (fits(self._budget, everyone, worst, False) and fits(self._tokens, everyone, worst, True)):
                return BUDGET
            return None if fits(self._user_cap, mine, worst, False) else USER_BUDGET

        per_user = self._user_cap > 0
        held = await self._store.hold_spend(SpendHold(user, worst, since, self._lease, per_user), room)
        return held if isinstance(held, str) else Hold(held)

    async def settle(self, hold: Hold, usage: Usage | None) -> None:
        """The call is over and its reply recorded: release its hold, count what it really used.
        A release that fails is logged; the hold then lapses with its lease."""
        if hold.id is None:
            return
        used = (
            Spent(0.0, 0)
            if usage is None
            else Spent(usage.cost_usd or 0.0, usage.prompt_tokens + usage.completion_tokens)
        )
        try:
            await self._store.release_spend(hold.id, used)
        except Exception as exc:  # the answer is given; the hold only counts until its lease ends
            log.warning("could not release spend hold %s (it lapses in %s): %s", hold.id, self._lease, exc)
