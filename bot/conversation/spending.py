"""What answers cost, and today's caps on it: llm.daily_budget_usd for everyone, limits.user_daily_usd
for each user, and limits.daily_tokens for a model without a price. Each answer reserves its worst
case before the call and settles with what it used, so answers running at once can't overshoot."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from bot.conversation.fallback import BUDGET, USER_BUDGET
from bot.events import Usage
from bot.llm.client import CompletionUsage
from bot.settings import ModelInfo, Settings
from bot.storage.store import ConversationStore, Spent

User = tuple[str, str]  # (platform, user id)


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


@dataclass
class _Meter:
    """One cap for one UTC day: what was used (read from the store once a day, then counted up)
    and the worst cases held by calls under way."""

    cap: float  # 0 = no cap
    day: date | None = None
    used: float = 0.0
    held: float = 0.0
    holds: int = 0  # calls under way (a count: float sums of holds don't return to exactly 0)

    def fits(self, worst: float) -> bool:
        """A lone call may start below the cap whatever its worst case (so the cap is passed by one
        answer at most); beside others, only if all their worst cases fit."""
        if self.cap <= 0:
            return True
        return self.used < self.cap and (not self.holds or self.used + self.held + worst <= self.cap)

    def hold(self, worst: float) -> None:
        self.held += worst
        self.holds += 1

    def release(self, worst: float, used: float, day: date) -> None:
        self.holds -= 1
        self.held = max(0.0, self.held - worst) if self.holds else 0.0
        if self.day == day:
            self.used += used


@dataclass(frozen=True, slots=True)
class Hold:
    """What one call reserved; give it back to `Spending.settle`."""

    day: date
    user: User
    usd: float
    tokens: int


class Spending:
    """Today's caps on model use; `reserve` before a call, `settle` after it."""

    def __init__(self, store: ConversationStore, settings: Settings, today: Callable[[], date]) -> None:
        self._store = store
        self._today = today
        self._model = settings.model_info()  # None: unpriced, capped in tokens instead of USD
        priced = self._model is not None
        self._budget = _Meter(settings.llm.daily_budget_usd if priced else 0.0)
        self._tokens = _Meter(0.0 if priced else float(settings.limits.daily_tokens))
        self._user_cap = settings.limits.user_daily_usd if priced else 0.0
        self._users: dict[User, _Meter] = {}
        self._users_day: date | None = None

    def worst_usd(self, prompt_tokens: int, max_tokens: int) -> float:
        """The most a call can cost: its prompt and the longest answer allowed."""
        if self._model is None:
            return 0.0
        return (prompt_tokens * self._model.input_per_1k + max_tokens * self._model.output_per_1k) / 1000

    async def reserve(self, user: User, prompt_tokens: int, max_tokens: int) -> Hold | str:
        """Hold the call's worst case against every cap; the reason (BUDGET, USER_BUDGET) instead,
        with nothing held, when one of them has no room."""
        today = self._today()
        meters: list[tuple[_Meter, User | None]] = [
            (m, None) for m in (self._budget, self._tokens) if m.cap > 0
        ]
        if self._user_cap > 0:
            meters.append((self._user_meter(user, today), user))
        for meter, whose in meters:
            await self._load(meter, today, whose)
        # From here to the holds nothing awaits: no other answer can slip in between check and hold.
        usd = self.worst_usd(prompt_tokens, max_tokens)
        tokens = prompt_tokens + max_tokens
        for meter, whose in meters:
            if not meter.fits(float(tokens) if meter is self._tokens else usd):
                return BUDGET if whose is None else USER_BUDGET
        for meter, _ in meters:
            meter.hold(float(tokens) if meter is self._tokens else usd)
        return Hold(today, user, usd, tokens)

    def settle(self, hold: Hold, usage: Usage | None) -> None:
        """The call is over: release its holds and count what it really used."""
        cost = (usage.cost_usd or 0.0) if usage is not None else 0.0
        used = (usage.prompt_tokens + usage.completion_tokens) if usage is not None else 0
        if self._budget.cap > 0:
            self._budget.release(hold.usd, cost, hold.day)
        if self._tokens.cap > 0:
            self._tokens.release(float(hold.tokens), float(used), hold.day)
        meter = self._users.get(hold.user) if self._user_cap > 0 else None
        if meter is not None:
            meter.release(hold.usd, cost, hold.day)

    def _user_meter(self, user: User, today: date) -> _Meter:
        if self._users_day != today:  # a new day: forget the users with no call under way
            self._users = {u: m for u, m in self._users.items() if m.holds}
            self._users_day = today
        meter = self._users.get(user)
        if meter is None:
            meter = self._users[user] = _Meter(self._user_cap)
        return meter

    async def _load(self, meter: _Meter, today: date, user: User | None) -> None:
        if meter.day == today:
            return
        since = datetime(today.year, today.month, today.day, tzinfo=UTC)
        spent: Spent = await self._store.spent_since(since, user)
        if meter.day != today:  # else another answer loaded it while we waited (and may have counted since)
            meter.day = today
            meter.used = float(spent.tokens) if meter is self._tokens else spent.cost_usd
