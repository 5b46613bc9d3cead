"""The log: set up as text or JSON lines (log.format), with the message being handled named on each
line, and secrets never in it — a filter on every handler blanks configured secrets, wherever they
appear (upstream error text included), and anything shaped like an API key or token."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Literal, TextIO

from pydantic import SecretStr

from bot.settings import Secrets

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_OURS = "supportbot_handler"  # marks the handler setup_logging installed
# The message being handled, for every line logged meanwhile (set in bot/ops/observe.py and by the
# manager once the conversation is known); contextvars follow each answer's task.
CONVERSATION_ID: ContextVar[int | None] = ContextVar("conversation_id", default=None)
MESSAGE_ID: ContextVar[str | None] = ContextVar("message_id", default=None)
PLATFORM: ContextVar[str | None] = ContextVar("platform", default=None)

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


_CONTEXT = (("platform", PLATFORM), ("conversation_id", CONVERSATION_ID), ("message_id", MESSAGE_ID))


class JSONLines(logging.Formatter):
    """One JSON object per record: time, level, logger, message, the message being handled where
    known, and the (already redacted) traceback text."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, var in _CONTEXT:
            value = var.get()
            if value is not None:
                line[name] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def setup_logging(level: int, fmt: Literal["text", "json"] = "text", stream: TextIO | None = None) -> None:
    """The root logger's handler, to stderr (or `stream`) in the chosen format. Like logging.basicConfig,
    it leaves a root logger that has handlers of someone else's alone (a test runner's, an embedding
    program's); one of ours from an earlier call is replaced."""
    root = logging.getLogger()
    if any(not getattr(h, _OURS, False) for h in root.handlers):
        return
    for old in list(root.handlers):
        root.removeHandler(old)
    handler = logging.StreamHandler(stream)
    setattr(handler, _OURS, True)
    handler.setFormatter(JSONLines() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("httpx", "httpx2"):  # the HTTP clients under openai: a line per model request
        logging.getLogger(noisy).setLevel(logging.WARNING)


@contextmanager
def handling(platform: str, message_id: str) -> Iterator[None]:
    """Lines logged inside name this message (and its conversation, once `in_conversation` said it)."""
    tokens = (PLATFORM.set(platform), MESSAGE_ID.set(message_id), CONVERSATION_ID.set(None))
    try:
        yield
    finally:
        # A stream closed by the garbage collector runs this in another context: nothing to undo there.
        with suppress(ValueError):
            CONVERSATION_ID.reset(tokens[2])
            MESSAGE_ID.reset(tokens[1])
            PLATFORM.reset(tokens[0])


def in_conversation(conversation_id: int) -> None:
    """The message being handled belongs to this stored conversation (reset when `handling` ends)."""
    CONVERSATION_ID.set(conversation_id)
