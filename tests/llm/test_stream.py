"""The LLM client reads the model's stream itself (the SDK's raw streaming response, one json.loads a
chunk): text, tool calls and usage as the API sends them, however the bytes are cut, and an error
sent inside the stream; what a refused connection and a silent server are called. A small
OpenAI-compatible server writes the exact bytes each test needs; the client is the bot's own
(bot/llm/sdk.py: the SDK on the aiohttp transport)."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web

from bot.llm.client import CompletionUsage, LLMClient, LLMError, LLMErrorKind, ToolCall
from bot.llm.sdk import openai_client
from bot.settings import LLMSettings

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def event(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload).encode() + b"\r\n\r\n"


def chunk(delta: dict[str, Any]) -> dict[str, Any]:
    return {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}  # fmt: skip


TOOL = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "escalate", "arguments": '{"re'}}
STREAM = b"".join(
    [
        b": keep-alive comment\r\n\r\n",
        event(chunk({"role": "assistant", "content": "Open Settings"})),
        event(chunk({"content": ", then Security."})),
        event(chunk({"tool_calls": [TOOL]})),
        event(chunk({"tool_calls": [{"index": 0, "function": {"arguments": 'ason": "asked"}'}}]})),
        event(
            {
                "id": "c1",
                "object": "chat.completion.chunk",
                "created": 1,
                "model": "m",
                "choices": [],
                "usage": {"prompt_tokens": 31, "completion_tokens": 7, "total_tokens": 38},
            }
        ),
        b"data: [DONE]\r\n\r\n",
        event(chunk({"content": "after the end: never shown"})),
    ]
)


async def serve(body: bytes, piece: int) -> AsyncIterator[str]:
    """Serve `body` as an SSE stream for every chat completion, written `piece` bytes at a time."""

    async def completions(request: web.Request) -> web.StreamResponse:
        await request.read()
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        for i in range(0, len(body), piece):
            await resp.write(body[i : i + piece])
        return resp

    async for url in serving(completions):
        yield url


async def serving(completions: Handler) -> AsyncIterator[str]:
    """An OpenAI-compatible base URL whose chat completions `completions` answers."""
    app = web.Application()
    app.router.add_post("/v1/chat/completions", completions)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/v1"
    finally:
        await runner.cleanup()


async def read(body: bytes, piece: int) -> tuple[list[object], LLMError | None]:
    got: list[object] = []
    async for url in serve(body, piece):
        sdk = openai_client(api_key="sk-test", base_url=url, timeout_s=10, max_retries=0)
        client = LLMClient(sdk, LLMSettings())
        try:
            async for item in client.stream([{"role": "user", "content": "how do I reset my password?"}]):
                got.append(item)
        except LLMError as exc:
            return got, exc
        finally:
            await client.close()
    return got, None


@pytest.mark.parametrize("piece", [len(STREAM), 1, 7])
async def test_text_tool_calls_and_usage_come_through_however_the_bytes_are_cut(piece: int) -> None:
    got, error = await read(STREAM, piece)
    assert error is None
    assert got == [
        "Open Settings",
        ", then Security.",
        ToolCall("escalate", '{"reason": "asked"}'),
        CompletionUsage(model="gpt-4o-mini", prompt_tokens=31, completion_tokens=7),
    ]


async def test_an_error_sent_inside_the_stream_is_an_llm_error_after_the_text_before_it() -> None:
    body = event(chunk({"content": "Open"})) + event({"error": {"message": "overloaded", "type": "server"}})
    got, error = await read(body, 5)
    assert got == ["Open"]
    assert error is not None and error.kind is LLMErrorKind.SERVER and "overloaded" in error.detail


async def test_a_chunk_that_is_not_json_is_an_unreadable_response() -> None:
    got, error = await read(event(chunk({"content": "Open"})) + b"data: {not json\n\n", 3)
    assert got == ["Open"]
    assert error is not None and error.kind is LLMErrorKind.SERVER and "unreadable" in error.detail


async def test_a_model_server_that_refuses_the_connection_is_a_server_error_not_a_timeout() -> None:
    """The aiohttp transport reports a refused connection as a ConnectTimeout; the user is told the
    model is having trouble, not that the answer took too long."""
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    _, error = await words_until_error(f"http://127.0.0.1:{port}/v1", 10)
    assert error.kind is LLMErrorKind.SERVER, error.detail


async def test_a_model_that_sends_nothing_in_time_is_a_timeout() -> None:
    async def silent(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.Response()

    async for url in serving(silent):
        _, error = await words_until_error(url, 0.2)
    assert error.kind is LLMErrorKind.TIMEOUT, error.detail


async def first_words_then(then: Callable[[web.Request], Awaitable[None]]) -> AsyncIterator[str]:
    """A model that streams its first words, then does `then` (stalls, drops the connection)."""

    async def completions(request: web.Request) -> web.StreamResponse:
        await request.read()
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        await resp.write(event(chunk({"content": "Open Settings"})))
        await then(request)
        return resp

    async for url in serving(completions):
        yield url


async def words_until_error(url: str, timeout_s: float) -> tuple[list[object], LLMError]:
    """What a one-attempt answer from `url` streamed, and the LLMError it ended in."""
    sdk = openai_client(api_key="sk-test", base_url=url, timeout_s=timeout_s, max_retries=0)
    client = LLMClient(sdk, LLMSettings())
    got: list[object] = []
    try:
        with pytest.raises(LLMError) as raised:
            async for item in client.stream([{"role": "user", "content": "hello?"}]):
                got.append(item)
    finally:
        await client.close()
    return got, raised.value


async def test_a_stream_that_stalls_past_the_read_timeout_is_a_timeout_after_its_first_words() -> None:
    """The SDK leaves errors while the body is read to whoever reads it: they are LLMErrors too."""

    async def stall(request: web.Request) -> None:
        await asyncio.sleep(5)

    async for url in first_words_then(stall):
        got, error = await words_until_error(url, 0.3)
    assert got == ["Open Settings"]
    assert error.kind is LLMErrorKind.TIMEOUT, error.detail


async def test_a_stream_whose_connection_drops_is_a_server_error_after_its_first_words() -> None:
    async def drop(request: web.Request) -> None:
        assert request.transport is not None
        request.transport.close()

    async for url in first_words_then(drop):
        got, error = await words_until_error(url, 5)
    assert got == ["Open Settings"]
    assert error.kind is LLMErrorKind.SERVER, error.detail
