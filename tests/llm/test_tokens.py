"""Token counting starts without the network: the model's encoding only when tiktoken has it cached."""

from __future__ import annotations

from pathlib import Path

import pytest
import tiktoken.load

from bot.llm.tokens import OFFLINE_ENCODING, load_counter


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
