"""Secrets never reach the log: a filter on every handler that blanks configured secrets, wherever
they appear (upstream error text included), and anything shaped like an API key or token."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from pydantic import SecretStr

from bot.settings import Secrets

# Key and token shapes: OpenAI (sk-…, also as a provider echoes it masked: sk-abc…wxyz / sk-ab****yz),
# Slack (xoxb-, xoxp-, xapp-…), bearer tokens, and Discord bot tokens (three base64url parts).
_SHAPES = re.compile(
    r"\bsk-[A-Za-z0-9_*.\-]{4,}"
    r"|\bxox[abposr]-[A-Za-z0-9\-]+"
    r"|\bxapp-[A-Za-z0-9\-]+"
    r"|\bBearer\s+[A-Za-z0-9._~+/\-]+=*"
    r"|\b[A-Za-z0-9_\-]{23,28}\.[A-Za-z0-9_\-]{6}\.[A-Za-z0-9_\-]{27,}"
)
HIDDEN = "[redacted]"


class Redact(logging.Filter):
    """Rewrites each record's message with every secret and secret-shaped string hidden."""

    def __init__(self, secrets: list[str], personal: Callable[[str], str] | None = None) -> None:
        super().__init__()
        self._personal = personal  # privacy.redact includes logs: emails, phones, cards, IBANs too
        # Longest first, so a secret that contains another is hidden whole.
        self._secrets = sorted((s for s in secrets if len(s) >= 6), key=len, reverse=True)

    def scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, HIDDEN)
        text = _SHAPES.sub(HIDDEN, text)
        return self._personal(text) if self._personal is not None else text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        scrubbed = self.scrub(message)
        if scrubbed != message:
            record.msg, record.args = scrubbed, None
        if record.exc_text:
            record.exc_text = self.scrub(record.exc_text)
        return True


def secret_values(secrets: Secrets) -> list[str]:
    values = [getattr(secrets, name) for name in type(secrets).model_fields]
    return [v.get_secret_value() for v in values if isinstance(v, SecretStr)]


def redact_logs(secrets: Secrets, personal: Callable[[str], str] | None = None) -> Redact:
    """Install the filter on every handler of the root logger (call once, after logging is set up)."""
    redact = Redact(secret_values(secrets), personal)
    for handler in logging.getLogger().handlers:
        handler.addFilter(redact)
    return redact
