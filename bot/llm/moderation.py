"""Optional moderation of user messages at an OpenAI-compatible /v1/moderations endpoint."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from enum import StrEnum
from typing import TYPE_CHECKING

from bot.settings import ModerationSettings

if TYPE_CHECKING:  # the SDK loads with the first client (bot/app.py), not with this module
    import openai

log = logging.getLogger(__name__)
WARN_EVERY_S = 60.0  # an endpoint that is down fails every message: one log line a minute


class Verdict(StrEnum):
    """What the check decided; the values other than ALLOWED are what a refused message records."""

    ALLOWED = "allowed"
    FLAGGED = "moderated"
    UNAVAILABLE = "moderation_unavailable"  # the check failed and moderation.on_error = "refuse"


class Moderator:
    """Asks the moderation endpoint about one message at a time, through the app's OpenAI client."""

    def __init__(
        self,
        client: openai.AsyncOpenAI,
        settings: ModerationSettings,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._settings = settings
        self._clock = clock
        self._warned_at: float | None = None
        self._quiet = 0  # failures not logged since the last line

    async def check(self, text: str) -> Verdict:
        """FLAGGED when the endpoint flags `text`; when it fails or takes longer than
        moderation.timeout_s, ALLOWED or UNAVAILABLE as moderation.on_error says."""
        s = self._settings
        try:
            async with asyncio.timeout(s.timeout_s):  # the SDK's retries included
                response = await self._client.moderations.create(
                    model=s.model, input=text, timeout=s.timeout_s
                )
        except Exception as exc:  # any failure of an optional check is handled as on_error says
            self._failed(
                f"timed out after {s.timeout_s:g} s" if isinstance(exc, TimeoutError) else _short(exc)
            )
            return Verdict.ALLOWED if s.on_error == "allow" else Verdict.UNAVAILABLE
        flagged = [r for r in response.results if r.flagged]
        if not flagged:
            return Verdict.ALLOWED
        categories = sorted({name for r in flagged for name, on in r.categories.model_dump().items() if on})
        log.info("moderation flagged a message (%s)", ", ".join(categories) or "no category named")
        return Verdict.FLAGGED

    def _failed(self, why: str) -> None:
        now = self._clock()
        if self._warned_at is not None and now - self._warned_at < WARN_EVERY_S:
            self._quiet += 1
            return
        more = f"; {self._quiet} more failures since the last line" if self._quiet else ""
        then = "answering unchecked" if self._settings.on_error == "allow" else "refusing the message"
        log.warning("moderation check failed (%s), %s (moderation.on_error)%s", why, then, more)
        self._warned_at, self._quiet = now, 0


def _short(exc: Exception) -> str:
    """The error in one line for the log (the log's filter still scrubs secrets from it)."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__
