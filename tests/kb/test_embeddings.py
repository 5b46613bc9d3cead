"""Semantic retrieval through the real openai SDK against the fake `/v1/embeddings` endpoint."""

from __future__ import annotations

import logging
from pathlib import Path

import aiosqlite
import pytest

from bot.kb import EmbeddingSettings, KBSettings, KnowledgeBase
from bot.kb.embeddings import OpenAIEmbedder, build_embedder
from bot.kb.knowledge_base import clarity
from bot.kb.local_embeddings import LocalEmbedder
from tests.fakes.openai_server import FakeOpenAI

MODEL = "fake-embed"


def settings(fake: FakeOpenAI, **kb: object) -> KBSettings:
    emb = EmbeddingSettings(enabled=True, base_url=fake.base_url, model=MODEL, batch_size=4, max_retries=0)
    return KBSettings(embeddings=emb, **kb)


async def open_kb(
    db: aiosqlite.Connection, fake: FakeOpenAI, **kb: object
) -> tuple[KnowledgeBase, OpenAIEmbedder]:
    s = settings(fake, **kb)
    embedder = build_embedder(s.embeddings, {"KB_EMBEDDINGS_API_KEY": "sk-test"})
    assert isinstance(embedder, OpenAIEmbedder)
    base = KnowledgeBase(db, s, embedder=embedder)
    await base.setup()
    return base, embedder


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def make_docs(root: Path) -> None:
    write(root / "mute-a-user.md", "# Mute a user\n\nMuting hides their messages from you.\n")
    write(root / "star-a-message.md", "# Star a message\n\nStarred messages are easy to find again.\n")
    write(
        root / "edit-a-message.md",
        "# Edit a message\n\nFix a typo after sending.\n\n## Delete\n\nRemove a message for everyone.\n",
    )


def embedded_inputs(fake: FakeOpenAI) -> list[str]:
    return [text for body in fake.embedding_requests for text in body["input"]]


async def count_vectors(db: aiosqlite.Connection) -> int:
    async with db.execute("SELECT count(*) FROM kb_vectors WHERE model = ?", (MODEL,)) as cur:
        row = await cur.fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.asyncio
async def test_vectors_stored_at_index_time(
    db: aiosqlite.Connection, fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    make_docs(tmp_path / "docs")
    kb, embedder = await open_kb(db, fake_openai)
    report = await kb.add(tmp_path / "docs")
    assert report.chunks == 4 and report.embedded == 4 and report.warnings == ()
    assert await count_vectors(db) == 4
    # batch_size 4 -> one request; the page title gives each chunk its topic; floats requested
    [body] = fake_openai.embedding_requests
    assert body["model"] == MODEL and body["encoding_format"] == "float"
    assert any(t.startswith("Edit a message — Delete") for t in body["input"])
    await embedder.close()


@pytest.mark.asyncio
async def test_reindex_embeds_only_new_or_changed_chunks(
    db: aiosqlite.Connection, fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    root = tmp_path / "docs"
    make_docs(root)
    kb, embedder = await open_kb(db, fake_openai)
    await kb.add(root)
    before = len(fake_openai.embedding_requests)

    again = await kb.add(root)  # nothing changed: no request at all
    assert (again.unchanged, again.embedded) == (3, 0)
    assert len(fake_openai.embedding_requests) == before

    # One chunk of a two-chunk page changes: only that text is sent; a new page is embedded;
    # a removed page's vector is dropped.
    write(
        root / "edit-a-message.md",
        "# Edit a message\n\nFix a typo after sending.\n\n## Delete\n\nDeleted messages are gone.\n",
    )
    write(root / "new-page.md", "# Dark theme\n\nSwitch to the dark theme.\n")
    (root / "star-a-message.md").unlink()
    report = await kb.add(root)
    assert (report.added, report.changed, report.removed, report.embedded) == (1, 1, 1, 2)
    sent = embedded_inputs(fake_openai)[4:]
    assert len(sent) == 2 and len(fake_openai.embedding_requests) == before + 1
    assert any("Deleted messages are gone." in t for t in sent)
    assert any("Switch to the dark theme." in t for t in sent)
    assert not any("Fix a typo" in t for t in sent)  # unchanged chunk of the changed page kept its vector
    assert await count_vectors(db) == 4
    await embedder.close()


@pytest.mark.asyncio
async def test_hybrid_finds_page_bm25_misses(
    db: aiosqlite.Connection, fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    make_docs(tmp_path / "docs")
    fake_openai.embedding_aliases.update({"block": "mute", "blocking": "mute", "annoying": "muting"})
    question = "how do I block an annoying person"

    plain = KnowledgeBase(db, KBSettings(min_score=0.0))
    await plain.setup()
    await plain.add(tmp_path / "docs")
    bm25 = await plain.search(question)
    assert "mute-a-user.md" not in [h.source for h in bm25.hits]

    kb, embedder = await open_kb(db, fake_openai, min_score=0.0)
    await kb.add(tmp_path / "docs")  # same source: fills in the missing vectors
    hybrid = await kb.search(question)
    assert hybrid.hits[0].source == "mute-a-user.md"
    assert hybrid.similarity is not None and hybrid.similarity > 0.3
    assert fake_openai.embedding_requests[-1]["input"] == [question]
    await embedder.close()


@pytest.mark.asyncio
async def test_query_time_failure_falls_back_to_bm25(
    db: aiosqlite.Connection, fake_openai: FakeOpenAI, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    make_docs(tmp_path / "docs")
    kb, embedder = await open_kb(db, fake_openai)
    await kb.add(tmp_path / "docs")
    fake_openai.fail_embeddings_next("500")
    with caplog.at_level(logging.WARNING, logger="bot.kb.knowledge_base"):
        result = await kb.search("fix a typo after sending")
    assert result.hits[0].source == "edit-a-message.md"
    assert result.similarity is None and not result.abstain
    assert "answering from BM25 alone" in caplog.text and "500" in caplog.text
    fake_openai.fail_embeddings_next("malformed")
    assert (await kb.search("fix a typo after sending")).hits[0].source == "edit-a-message.md"
    assert (await kb.search("fix a typo after sending")).similarity is not None  # recovered
    await embedder.close()


@pytest.mark.asyncio
async def test_index_time_failure_keeps_bm25_and_retries_next_add(
    db: aiosqlite.Connection, fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    make_docs(tmp_path / "docs")
    kb, embedder = await open_kb(db, fake_openai)
    fake_openai.fail_embeddings_next("401")
    report = await kb.add(tmp_path / "docs")
    assert report.added == 3 and report.embedded == 0
    assert len(report.warnings) == 1 and "no vector yet" in report.warnings[0]
    assert (await kb.search("starred messages")).hits[0].source == "star-a-message.md"
    again = await kb.add(tmp_path / "docs")
    assert (again.unchanged, again.embedded, again.warnings) == (3, 4, ())
    assert await count_vectors(db) == 4
    await embedder.close()


def test_build_embedder_from_settings() -> None:
    assert build_embedder(EmbeddingSettings()) is None  # off by default
    on = EmbeddingSettings(enabled=True, base_url="http://127.0.0.1:9/v1", model="m", batch_size=8)
    env = {"OPENAI_API_KEY": "sk-chat", "KB_EMBEDDINGS_API_KEY": "sk-embed"}
    embedder = build_embedder(on, env)
    assert isinstance(embedder, OpenAIEmbedder) and embedder.model == "m"
    assert embedder._client.api_key == "sk-embed"
    assert str(embedder._client.base_url).startswith("http://127.0.0.1:9/v1")
    fallback = build_embedder(on, {"OPENAI_API_KEY": "sk-chat"})
    assert isinstance(fallback, OpenAIEmbedder) and fallback._client.api_key == "sk-chat"
    local = build_embedder(EmbeddingSettings(enabled=True, provider="local"), env)
    assert isinstance(local, LocalEmbedder) and local.model == "all-MiniLM-L6-v2-onnx-int8"


def test_clarity_is_how_far_the_best_chunk_stands_out() -> None:
    flat = [0.50 + 0.01 * (i % 3) for i in range(60)]
    standout = [*flat[:-1], 0.9]
    assert clarity(standout) > 7 > clarity(flat)
    assert clarity(flat) < 2.8  # nothing stands out: the hybrid search abstains
    # Too few chunks to judge: no verdict, never an abstention.
    assert clarity([0.1, 0.9, 0.2]) == float("inf")
