"""A small OpenAI-compatible chat (and embeddings) server on 127.0.0.1 for tests and benches.

Streams SSE chunks with a usage chunk like the real API; faults can be queued (429 with
Retry-After, 500, 401, context-length 400, a hang past the client's timeout, a malformed body, a
stream cut or stalled after its first chunk), or drawn at random: `fault_rate` of the requests with
nothing queued get one of `random_faults` (a soak's steady share of failures).
The default answer echoes the last user message and counts the messages it was sent.
`/v1/embeddings` returns deterministic vectors: a normalised hashed bag of words, after mapping
words through `embedding_aliases` (so a test can make "block" mean "mute"); its requests are
recorded in `embedding_requests` and its faults queued with `fail_embeddings_next`.
`/v1/moderations` flags an input that contains one of `flagged_words` (category "harassment");
its requests are in `moderation_requests`, its faults queued with `fail_moderation_next`.
Every request is a `Call` in `calls` (`requests`, `auth_headers`, `embedding_requests` and
`moderation_requests` are views).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import math
import re
import struct
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.base import FakeServer, json_response

CHAT = "/v1/chat/completions"
EMBEDDINGS = "/v1/embeddings"
MODERATIONS = "/v1/moderations"
CATEGORIES = ("harassment", "hate", "self-harm", "sexual", "violence")

# A reply is text, or {"tool": name, "arguments": {...}, "text": optional text before the call}.
Reply = Callable[[dict[str, Any]], str | dict[str, Any]]


def echo_reply(request: dict[str, Any]) -> str:
    last = request["messages"][-1]["content"]
    return f"Echo ({len(request['messages'])} messages): {last}"


@dataclass(frozen=True, slots=True)
class Call:
    path: str  # CHAT, EMBEDDINGS or MODERATIONS
    body: dict[str, Any]
    authorization: str  # the Authorization header as sent
    at: float  # time.monotonic() when it arrived


@dataclass
class FakeOpenAI(FakeServer[Call]):
    latency_s: float = 0.0  # before the first chunk
    chunk_delay_s: float = 0.0  # before each later chunk
    reply: Reply = echo_reply
    chunk_words: int = 3  # words per streamed chunk
    faults: deque[str] = field(default_factory=deque)
    retry_after: str = "0"
    fault_rate: float = 0.0  # share of chat requests (with no fault queued) given a random fault
    random_faults: tuple[str, ...] = ("429", "500", "503", "hang", "malformed", "cut")
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)
    embedding_dims: int = 64
    embedding_aliases: dict[str, str] = field(default_factory=dict)
    embedding_faults: deque[str] = field(default_factory=deque)
    flagged_words: set[str] = field(default_factory=set)  # lower-case words moderation flags
    meet: int = 0  # hold chat requests until this many are waiting at once (tests of concurrency)
    _waiting: int = 0
    _met: asyncio.Event = field(default_factory=asyncio.Event)
    moderation_faults: deque[str] = field(default_factory=deque)

    @property
    def url(self) -> str:
        return f"{super().url}/v1"

    @property
    def base_url(self) -> str:
        return self.url

    @property
    def requests(self) -> list[dict[str, Any]]:
        """The chat completion requests' bodies, in order."""
        return [c.body for c in self.calls if c.path == CHAT]

    @property
    def auth_headers(self) -> list[str]:
        """The chat completion requests' Authorization headers, in order."""
        return [c.authorization for c in self.calls if c.path == CHAT]

    @property
    def embedding_requests(self) -> list[dict[str, Any]]:
        return [c.body for c in self.calls if c.path == EMBEDDINGS]

    @property
    def moderation_requests(self) -> list[dict[str, Any]]:
        return [c.body for c in self.calls if c.path == MODERATIONS]

    def fail_moderation_next(self, fault: str, times: int = 1) -> None:
        """Queue `times` moderation faults: 500, 404 (a server without the endpoint), hang, malformed."""
        self.moderation_faults.extend([fault] * times)

    def fail_next(self, fault: str, times: int = 1) -> None:
        """Queue `times` faults: 429, 500, 503, 401, context, hang, malformed, cut, stall."""
        self.faults.extend([fault] * times)

    def routes(self, app: web.Application) -> None:
        app.router.add_post(CHAT, self._completions)
        app.router.add_post(EMBEDDINGS, self._embeddings)
        app.router.add_post(MODERATIONS, self._moderations)

    async def stop(self) -> None:
        self._stopping.set()
        await super().stop()

    def _record(self, request: web.Request, body: dict[str, Any]) -> None:
        self.record(Call(request.path, body, request.headers.get("Authorization", ""), time.monotonic()))

    def fail_embeddings_next(self, fault: str, times: int = 1) -> None:
        """Queue `times` embeddings faults: 500, 401, malformed."""
        self.embedding_faults.extend([fault] * times)

    def embed(self, text: str) -> list[float]:
        """The fake model: hashed bag of (aliased) lower-cased words, unit length."""
        vector = [0.0] * self.embedding_dims
        for word in re.findall(r"[a-z0-9]+", text.lower()):
            word = self.embedding_aliases.get(word, word)
            vector[int(hashlib.sha256(word.encode()).hexdigest(), 16) % self.embedding_dims] += 1.0
        norm = math.sqrt(sum(v * v for v in vector)) or 1.0
        return [v / norm for v in vector]

    async def _embeddings(self, request: web.Request) -> web.Response:
        body = await request.json()
        self._record(request, body)
        fault = self.embedding_faults.popleft() if self.embedding_faults else None
        if fault == "500":
            return _error(500, "server_error", "The server had an error")
        if fault == "401":
            return _error(401, "invalid_api_key", "Incorrect API key provided")
        if fault == "malformed":
            return web.Response(status=200, body=b"this is not json", content_type="application/json")
        texts = [body["input"]] if isinstance(body["input"], str) else body["input"]
        data: list[dict[str, Any]] = []
        for index, text in enumerate(texts):
            vector: Any = self.embed(text)
            if body.get("encoding_format") == "base64":
                vector = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
            data.append({"object": "embedding", "index": index, "embedding": vector})
        tokens = sum(len(t.split()) for t in texts)
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        return json_response({"object": "list", "data": data, "model": body["model"], "usage": usage})

    def _random_fault(self) -> str | None:
        if self.fault_rate > 0 and self.rng.random() < self.fault_rate:
            return self.rng.choice(self.random_faults)
        return None

    async def _moderations(self, request: web.Request) -> web.Response:
        body = await request.json()
        self._record(request, body)
        fault = self.moderation_faults.popleft() if self.moderation_faults else None
        if fault == "500":
            return _error(500, "server_error", "The server had an error")
        if fault == "404":
            return _error(404, "not_found", "Unknown request URL: POST /v1/moderations")
        if fault == "hang":
            await self._stopping.wait()
            return _error(500, "server_error", "stopped")
        if fault == "malformed":
            return web.Response(status=200, body=b"this is not json", content_type="application/json")
        texts = [body["input"]] if isinstance(body["input"], str) else body["input"]
        results = []
        for text in texts:
            flagged = bool(set(re.findall(r"[\w-]+", str(text).lower())) & self.flagged_words)
            categories = {name: flagged and name == "harassment" for name in CATEGORIES}
            scores = {name: 0.9 if on else 0.01 for name, on in categories.items()}
            results.append({"flagged": flagged, "categories": categories, "category_scores": scores})
        return json_response({"id": "modr-fake", "model": body.get("model", "fake"), "results": results})

    async def _fault_response(self, fault: str | None) -> web.Response | None:
        """The error a scripted fault answers with, or None to answer normally."""
        errors = {
            "429": (429, "rate_limit_exceeded", "Rate limit reached"),
            "500": (500, "server_error", "The server had an error"),
            "503": (503, "service_unavailable", "The server is overloaded"),
            "401": (401, "invalid_api_key", "Incorrect API key provided"),
            "context": (400, "context_length_exceeded", "This model's maximum context length is 8192"),
        }
        if fault in errors:
            status, code, message = errors[fault]
            headers = {"Retry-After": self.retry_after} if fault == "429" else None
            return _error(status, code, message, headers)
        if fault == "hang":  # until the client gives up, or the server stops
            await self._stopping.wait()
            return _error(500, "server_error", "stopped")
        if fault == "malformed":
            return web.Response(status=200, body=b"this is not json", content_type="application/json")
        return None

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self._record(request, body)
        fault = self.faults.popleft() if self.faults else self._random_fault()
        self.note("chat", fault=fault)
        if fault == "echo-key":  # a proxy that repeats the caller's key in its error, as some do
            key = request.headers.get("Authorization", "").removeprefix("Bearer ")
            return _error(
                401, "invalid_api_key", f"Incorrect API key provided: {key} ({key[:8]}****{key[-4:]})"
            )
        failed = await self._fault_response(fault)
        if failed is not None:
            return failed
        if self.meet and not self._met.is_set():
            self._waiting += 1
            if self._waiting >= self.meet:
                self._met.set()
            await self._met.wait()
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        reply = self.reply(body)
        tool = reply if isinstance(reply, dict) else None
        text = str(tool.get("text", "")) if tool is not None else str(reply)
        model = body.get("model", "fake")
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in body["messages"])
        usage = _usage(prompt_tokens, len(text.split()))
        if not body.get("stream"):
            return json_response(_completion(model, text, usage))
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        if not await self._stream_text(resp, model, text, fault):
            return resp
        if tool is not None:
            await _stream_tool_call(resp, model, tool)
        finish = "tool_calls" if tool is not None else "stop"
        await resp.write(_sse(_chunk(model, [{"index": 0, "delta": {}, "finish_reason": finish}])))
        if (body.get("stream_options") or {}).get("include_usage"):
            usage_chunk = _chunk(model, [])
            usage_chunk["usage"] = usage
            await resp.write(_sse(usage_chunk))
        await resp.write(b"data: [DONE]\n\n")
        return resp

    async def _stream_text(self, resp: web.StreamResponse, model: str, text: str, fault: str | None) -> bool:
        """The text in chunks of `chunk_words`; False when the stream was cut off after its first
        chunk (fault "cut": a broken chunk follows; "stall": nothing more until the server stops)."""
        words = text.split(" ") if text else []
        pieces = [" ".join(words[i : i + self.chunk_words]) for i in range(0, len(words), self.chunk_words)]
        for i, piece in enumerate(pieces):
            if fault == "cut" and i == 1:
                await resp.write(b"data: {not json\n\n")
                return False
            if fault == "stall" and i == 1:
                await self._stopping.wait()
                return False
            if i and self.chunk_delay_s:
                await asyncio.sleep(self.chunk_delay_s)
            delta: dict[str, Any] = {"role": "assistant", "content": piece if i == 0 else " " + piece}
            await resp.write(_sse(_chunk(model, [{"index": 0, "delta": delta, "finish_reason": None}])))
        return True


async def _stream_tool_call(resp: web.StreamResponse, model: str, tool: dict[str, Any]) -> None:
    """Streamed like the API: id and name first, the arguments in pieces."""
    arguments = json.dumps(tool.get("arguments", {}))
    half = len(arguments) // 2
    for i, part in enumerate((arguments[:half], arguments[half:])):
        call: dict[str, Any] = {"index": 0, "function": {"arguments": part}}
        if i == 0:
            call.update(id="call_1", type="function")
            call["function"]["name"] = tool["tool"]
        delta = {"tool_calls": [call]}
        await resp.write(_sse(_chunk(model, [{"index": 0, "delta": delta, "finish_reason": None}])))


def _completion(model: str, text: str, usage: dict[str, int]) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": usage,
    }


def _usage(prompt: int, completion: int) -> dict[str, int]:
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _chunk(model: str, choices: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": choices,
    }


def _sse(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> web.Response:
    body = {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": code}}
    return json_response(body, status=status, headers=headers)


async def _serve(port: int, latency_s: float) -> None:
    fake = FakeOpenAI(latency_s=latency_s)
    await fake.start(port)
    print(fake.base_url, flush=True)
    await asyncio.Event().wait()


def main() -> None:
    p = argparse.ArgumentParser(description="Run the fake OpenAI server (prints its base URL).")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--latency", type=float, default=0.0, help="seconds before the first chunk")
    args = p.parse_args()
    asyncio.run(_serve(args.port, args.latency))


if __name__ == "__main__":
    main()
