"""Optional semantic retrieval: chunk and query embeddings from an OpenAI-compatible endpoint.

`build_embedder` is the one place that turns `[kb.embeddings]` settings (and the API key from the
environment) into a client; `KnowledgeBase` receives it and never reads settings or env itself.
Vectors are unit-normalised float32, stored as little-endian blobs, so cosine similarity is a dot
product done in plain Python (no numpy in the core).
"""

from __future__ import annotations

import math
import os
import sys
from array import array
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

from bot.llm.sdk import openai_client

from .settings import EmbeddingSettings

if TYPE_CHECKING:  # the SDK loads with the first client (build_embedder), not with this module
    import openai

    from .local_embeddings import LocalEmbedder

API_KEY_ENV = "KB_EMBEDDINGS_API_KEY"  # wins over OPENAI_API_KEY, for a separate embeddings provider
BASE_URL_ENV = "OPENAI_BASE_URL"  # used when `kb.embeddings.base_url` is not set


class EmbeddingError(Exception):
    """The embeddings endpoint failed or answered something unusable; the message is one line."""


class Embedder(Protocol):
    """Turns texts into vectors (any length, order kept). Implementations batch as they need."""

    @property
    def model(self) -> str: ...

    async def embed(self, texts: Sequence[str]) -> list[array[float]]: ...


def normalise(values: Sequence[float]) -> array[float]:
    vector = array("f", values)
    norm = math.sqrt(math.fsum(v * v for v in vector))
    if norm > 0:
        vector = array("f", (v / norm for v in vector))
    return vector


def to_blob(vector: array[float]) -> bytes:
    if sys.byteorder == "big":
        vector = array("f", vector)
        vector.byteswap()
    return vector.tobytes()


def from_blob(blob: bytes) -> array[float]:
    vector = array("f")
    vector.frombytes(blob)
    if sys.byteorder == "big":
        vector.byteswap()
    return vector


def dot(a: array[float], b: array[float]) -> float:
    return math.fsum(x * y for x, y in zip(a, b, strict=False)) if len(a) == len(b) else -1.0


class OpenAIEmbedder:
    """`AsyncOpenAI.embeddings.create` in batches of `batch_size`; vectors come back normalised."""

    def __init__(self, client: openai.AsyncOpenAI, model: str, batch_size: int = 64) -> None:
        self._client = client
        self._model = model
        self._batch_size = batch_size

    @property
    def model(self) -> str:
        return self._model

    async def embed(self, texts: Sequence[str]) -> list[array[float]]:
        import openai

        out: list[array[float]] = []
        for start in range(0, len(texts), self._batch_size):
            batch = [t if t.strip() else " " for t in texts[start : start + self._batch_size]]
            try:
                response = await self._client.embeddings.create(
                    model=self._model, input=batch, encoding_format="float"
                )
            except (openai.OpenAIError, ValueError) as exc:  # ValueError: a body that is not JSON
                raise EmbeddingError(f"embeddings request failed: {_one_line(exc)}") from exc
            data = sorted(response.data, key=lambda d: d.index)
            if len(data) != len(batch):
                raise EmbeddingError(
                    f"embeddings endpoint returned {len(data)} vectors for {len(batch)} texts"
                )
            for item in data:
                if not isinstance(item.embedding, list) or not item.embedding:
                    raise EmbeddingError("embeddings endpoint returned an empty or non-float vector")
                out.append(normalise(item.embedding))
        return out

    async def close(self) -> None:
        await self._client.close()


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}"[:300]


def build_embedder(
    settings: EmbeddingSettings, env: Mapping[str, str] | None = None
) -> OpenAIEmbedder | LocalEmbedder | None:
    """The embeddings client for `settings`, or None when semantic retrieval is off; the in-process
    model for `provider = "local"` (loaded on first use).

    API key: env KB_EMBEDDINGS_API_KEY, else OPENAI_API_KEY; a local server without auth works with
    neither set. Base URL: `settings.base_url`, else env OPENAI_BASE_URL, else the OpenAI API.
    """
    if not settings.enabled:
        return None
    if settings.provider == "local":
        from .local_embeddings import LocalEmbedder

        return LocalEmbedder()
    environ = os.environ if env is None else env
    api_key = environ.get(API_KEY_ENV) or environ.get("OPENAI_API_KEY") or "not-needed"
    base_url = settings.base_url or environ.get(BASE_URL_ENV) or None
    client = openai_client(
        api_key=api_key, base_url=base_url, timeout_s=settings.timeout_s, max_retries=settings.max_retries
    )
    return OpenAIEmbedder(client, settings.model, settings.batch_size)
