"""Knowledge-base settings: the `[kb]` section of the bot's configuration.

Kept in its own module so the retrieval code can be configured and tested without the core settings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_INCLUDE_PATTERN = (
    r"^[ \t]*(?:\{!\s*(?P<zulip>[^!{}\s]+)\s*!\}|--8<--\s*[\"'](?P<mkdocs>[^\"']+)[\"'])[ \t]*$"
)
DEFAULT_SNIPPET_DIRS = ("include", "includes", "_includes", "snippets", "_snippets")
# Repository and provenance files that sit beside help pages but are not help content.
DEFAULT_EXCLUDE = (
    "LICENSE*",
    "LICENCE*",
    "NOTICE*",
    "CHANGELOG*",
    "CHANGES*",
    "CONTRIBUTING*",
    "CODE_OF_CONDUCT*",
    "SECURITY.md",
    "SOURCE.md",
    "AUTHORS*",
)


class EmbeddingSettings(BaseModel):
    """Optional semantic retrieval through an OpenAI-compatible embeddings endpoint (off by default)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    # "openai": any OpenAI-compatible /v1/embeddings endpoint (base_url, model); "local":
    # all-MiniLM-L6-v2 in this process with onnxruntime (extra local-semantic; no server, no torch).
    provider: Literal["openai", "local"] = "openai"
    # None = env OPENAI_BASE_URL, else the OpenAI API; any OpenAI-compatible server works.
    base_url: str | None = None
    model: str = Field("text-embedding-3-small", min_length=1)
    batch_size: int = Field(64, ge=1, le=2048)
    timeout_s: float = Field(30.0, gt=0.0)
    max_retries: int = Field(2, ge=0, le=10)
    # With embeddings the abstain decision is semantic (kb.min_score is for BM25 alone): abstain
    # when the best chunk's cosine is below min_similarity (model-dependent; 0.0 = off), or when it
    # stands fewer than min_clarity standard deviations above the mean cosine over all chunks
    # (nothing stands out: the corpus is only loosely related; 0.0 = off). Calibrate with `kb eval`.
    min_similarity: float = Field(0.0, ge=-1.0, le=1.0)
    min_clarity: float = Field(2.8, ge=0.0)
    rrf_k: int = Field(60, ge=1)  # reciprocal rank fusion constant: 1 / (rrf_k + rank)


class KBSettings(BaseModel):
    """Retrieval knobs: what is indexed, how it is chunked and when the bot says it does not know."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    top_k: int = Field(5, ge=1, le=50)
    min_score: float = Field(0.25, ge=0.0, le=1.0)
    max_context_chars: int = Field(6_000, ge=200)
    sample_dir: Path | None = Path("sample_kb")
    sample_url_template: str | None = None
    # Public URL of a page ({path}, {stem}, {name}) for sources added without --url-template.
    url_template: str | None = None
    chunk_chars: int = Field(1_000, ge=200)
    include_pattern: str = Field(DEFAULT_INCLUDE_PATTERN, min_length=1)
    snippet_dirs: tuple[str, ...] = DEFAULT_SNIPPET_DIRS
    exclude: tuple[str, ...] = DEFAULT_EXCLUDE
    # BM25 column weights of a chunk. The title is scored once per page through
    # `title_match_weight` instead: repeating it in every chunk favours long pages.
    title_weight: float = Field(0.0, ge=0.0)
    section_weight: float = Field(2.0, ge=0.0)
    body_weight: float = Field(1.0, gt=0.0)
    # Bonus (relative to the best chunk's BM25 score, 1.0) for a page whose title and file name
    # words are all in the question; a share of it for a partial match.
    title_match_weight: float = Field(0.3, ge=0.0)
    # With database.url (Postgres): how often each `supportbot run` applies the pages another
    # instance added, changed or removed to its own index (also once on start). Unused on SQLite.
    sync_s: float = Field(30.0, gt=0.0)
    embeddings: EmbeddingSettings = EmbeddingSettings()
