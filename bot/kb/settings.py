"""Knowledge-base settings: the `[kb]` section of the bot's configuration.

Kept in its own module so the retrieval code can be configured and tested without the core settings.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_INCLUDE_PATTERN = (
    r"^[ \t]*(?:\{!\s*(?P<zulip>[^!{}\s]+)\s*!\}|--8<--\s*[\"'](?P<mkdocs>[^\"']+)[\"'])[ \t]*$"
)
DEFAULT_SNIPPET_DIRS = ("include", "includes", "_includes", "snippets", "_snippets")
# Repository and provenance files that sit beside help pages but are not help content.
DEFAULT_EXCLUDE = (
    "LICENSE*", "LICENCE*", "NOTICE*", "CHANGELOG*", "CHANGES*", "CONTRIBUTING*",
    "CODE_OF_CONDUCT*", "SECURITY.md", "SOURCE.md", "AUTHORS*",
)


class EmbeddingSettings(BaseModel):
    """Optional semantic retrieval through an OpenAI-compatible embeddings endpoint (off by default)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    base_url: str | None = None  # None = the OpenAI default; any OpenAI-compatible server works
    model: str = Field("text-embedding-3-small", min_length=1)
    batch_size: int = Field(64, ge=1, le=2048)


class KBSettings(BaseModel):
    """Retrieval knobs: what is indexed, how it is chunked and when the bot says it does not know."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    top_k: int = Field(5, ge=1, le=50)
    min_score: float = Field(0.25, ge=0.0, le=1.0)
    max_context_chars: int = Field(6_000, ge=200)
    sample_dir: Path | None = Path("sample_kb")
    sample_url_template: str | None = None
    chunk_chars: int = Field(1_000, ge=200)
    include_pattern: str = Field(DEFAULT_INCLUDE_PATTERN, min_length=1)
    snippet_dirs: tuple[str, ...] = DEFAULT_SNIPPET_DIRS
    exclude: tuple[str, ...] = DEFAULT_EXCLUDE
    title_weight: float = Field(8.0, ge=0.0)
    section_weight: float = Field(3.0, ge=0.0)
    body_weight: float = Field(1.0, gt=0.0)
    embeddings: EmbeddingSettings = EmbeddingSettings()
