"""The LLM client: streams a chat completion through the openai SDK and names what went wrong."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, cast

from bot.ops.metrics import Metrics
from bot.settings import LLMSettings

if TYPE_CHECKING:  # the SDK loads with the first client (build_llm), not with this module
    import openai
    from openai.types.chat import ChatCompletionMessageParam, ChatCompletionToolParam

# The SDK's request header for "return the response unread" (openai._constants.RAW_RESPONSE_HEADER).
RAW_RESPONSE_HEADER = "X-Stainless-Raw-Response"


class LLMErrorKind(StrEnum):
    RATE_LIMITED = "rate_limited"
    TIMEOUT = "timeout"
    AUTH = "auth"
    BAD_REQUEST = "bad_request"
    CONTEXT_TOO_LONG = "context_too_long"
    SERVER = "server"  # 5xx, unreachable, or a response we cannot read
    NOT_CONFIGURED = "not_configured"


class LLMError(Exception):
    """An LLM call failed; `kind` says how, `detail` is for logs (never shown to users), `reason` is
    what the failed message records (the kind's name unless said otherwise, e.g. "deadline")."""

    def __init__(self, kind: LLMErrorKind, detail: str, *, reason: str = "") -> None:
        super().__init__(f"{reason or kind.value}: {detail}")
        self.kind = kind
        self.detail = detail
        self.reason = reason or kind.value


@dataclass(frozen=True, slots=True)
class CompletionUsage:
    model: str
    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A function the model asked us to call, with its JSON arguments as the model wrote them."""

    name: str
    arguments: str


LLMChunk = str | CompletionUsage | ToolCall


def _kind_of(exc: Exception) -> LLMErrorKind:
    import openai

    if isinstance(exc, openai.RateLimitError):
        return LLMErrorKind.RATE_LIMITED
    if isinstance(exc, openai.APITimeoutError):
        return LLMErrorKind.TIMEOUT if _timed_out(exc) else LLMErrorKind.SERVER
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        return LLMErrorKind.AUTH
    if isinstance(exc, openai.BadRequestError | openai.UnprocessableEntityError):
        code = getattr(exc, "code", None)
        text = str(exc).lower()
        if code == "context_length_exceeded" or "context length" in text or "context_length" in text:
            return LLMErrorKind.CONTEXT_TOO_LONG
        return LLMErrorKind.BAD_REQUEST
    if isinstance(exc, openai.NotFoundError):
        return LLMErrorKind.BAD_REQUEST  # usually a wrong model name or base URL
    return LLMErrorKind.SERVER


def _timed_out(exc: Exception) -> bool:
    """False for a refused or dropped connection that the SDK's aiohttp transport reports as a
    timeout (it maps every aiohttp ClientConnectionError to ConnectTimeout): only a cause that is
    a timeout itself is one."""
    import aiohttp

    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, aiohttp.ClientError):
            return isinstance(cause, TimeoutError)  # ServerTimeoutError and its kin are both
        cause = cause.__cause__
    return True


def _llm_error(exc: Exception) -> LLMError | None:
    """What ended a model call (streamed or not), as an LLMError; None for what is not the model's doing."""
    import aiohttp
    import httpx2
    import openai

    if isinstance(exc, openai.APIError):
        return LLMError(_kind_of(exc), f"{type(exc).__name__}: {exc}")
    if isinstance(exc, httpx2.HTTPError | aiohttp.ClientError):
        # The body broke off as it was read: the SDK names only the request's own errors (a
        # read timeout between two chunks reaches whoever reads the body).
        timeout = isinstance(exc, httpx2.TimeoutException) and _timed_out(exc)
        kind = LLMErrorKind.TIMEOUT if timeout else LLMErrorKind.SERVER
        return LLMError(kind, f"the stream broke off: {type(exc).__name__}: {exc}")
    if isinstance(exc, ValueError | KeyError | TypeError | AttributeError):  # a body we could not read
        return LLMError(LLMErrorKind.SERVER, f"unreadable response: {exc}")
    return None


class LLMClient:
    """Wraps AsyncOpenAI with the settings' model and sampling parameters."""

    def __init__(
        self, client: openai.AsyncOpenAI, settings: LLMSettings, metrics: Metrics | None = None
    ) -> None:
        self._client = client
        self._settings = settings
        self._metrics = metrics if metrics is not None else Metrics()

    @property
    def model(self) -> str:
        return self._settings.model

    @property
    def openai(self) -> openai.AsyncOpenAI:
        """The SDK client, for the other endpoints of the same server (moderation)."""
        return self._client

    def _body(
        self, messages: Sequence[ChatCompletionMessageParam], tools: Sequence[ChatCompletionToolParam]
    ) -> dict[str, Any]:
        s = self._settings
        body: dict[str, Any] = {
            "model": s.model,
            "messages": list(messages),
            "temperature": s.temperature,
            "top_p": s.top_p,
            "max_tokens": s.max_tokens,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if s.stop:
            body["stop"] = list(s.stop)
        if tools:
            body["tools"] = list(tools)
        return body

    def _usage(self, chunk: dict[str, Any]) -> CompletionUsage | None:
        usage = chunk.get("usage")
        if not isinstance(usage, dict):
            return None
        return CompletionUsage(
            model=self._settings.model,  # priced and reported by the configured name
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
        )

    async def stream(
        self,
        messages: Sequence[ChatCompletionMessageParam],
        tools: Sequence[ChatCompletionToolParam] = (),
        *,
        timeout_s: float | None = None,
    ) -> AsyncGenerator[LLMChunk, None]:
        """Yield text deltas as they arrive, then any ToolCalls, then one CompletionUsage.

        `timeout_s`: each attempt's timeout for this call (default the client's, llm.timeout_s).
        Raises LLMError.
        """
        import openai
        from openai.types.chat import ChatCompletion

        # The SDK's raw streaming response (what `with_streaming_response` asks for): the request,
        # retries, timeouts and HTTP errors are the SDK's own, but the body is ours to read, so no
        # model object is built per chunk (~5 ms an answer); the chunks are plain JSON.
        options: openai.RequestOptions = {
            "security": {"bearer_auth": True},
            "headers": {RAW_RESPONSE_HEADER: "stream"},
        }
        if timeout_s is not None:
            options["timeout"] = timeout_s
        calls: dict[int, list[str]] = {}  # index -> [name, arguments so far]
        usage: CompletionUsage | None = None
        began, first = time.monotonic(), True
        outcome = "cancelled"  # unless it ends: the consumer closed it early (deadline, shutdown)
        try:
            # The same request chat.completions.create() sends, minus its recursive re-validation
            # of every message (~140 µs each, so history length dominated our CPU per answer):
            # our messages are plain JSON already.
            response = cast(
                "openai.AsyncAPIResponse[ChatCompletion]",
                await self._client.post(
                    "/chat/completions",
                    body=self._body(messages, tools),
                    cast_to=ChatCompletion,
                    options=options,
                    stream=True,
                    stream_cls=openai.AsyncStream[Any],
                ),
            )
            try:
                async for data in sse_data(response.http_response.aiter_bytes()):
                    if data is None:
                        continue  # past [DONE]: read to the end so the connection is reused
                    chunk = _chunk(data, response)
                    usage = self._usage(chunk) or usage
                    for text in _read(chunk, calls):
                        if first:
                            self._metrics.llm_ttft.observe(time.monotonic() - began)
                            first = False
                        yield text
            finally:
                await response.close()
            outcome = "ok"
        except Exception as exc:
            error = _llm_error(exc)
            if error is None:
                raise
            outcome = error.kind.value
            raise error from exc
        finally:
            self._metrics.llm_calls.labels(outcome).inc()
        for name, arguments in calls.values():
            yield ToolCall(name, arguments)
        if usage is not None:
            yield usage

    async def complete(
        self, messages: Sequence[ChatCompletionMessageParam], *, max_tokens: int | None = None
    ) -> str:
        """One short non-streamed completion (summaries for staff; a 1-token one for `supportbot check
        --live`), at most `max_tokens` long (default llm.max_tokens). Raises LLMError."""

        s = self._settings
        outcome = "cancelled"
        try:
            response = await self._client.chat.completions.create(
                model=s.model,
                messages=list(messages),
                temperature=s.temperature,
                max_tokens=max_tokens or s.max_tokens,
            )
            outcome = "ok"
        except Exception as exc:
            error = _llm_error(exc)
            if error is None:
                raise
            outcome = error.kind.value
            raise error from exc
        finally:
            self._metrics.llm_calls.labels(outcome).inc()
        if not response.choices:
            return ""
        return response.choices[0].message.content or ""

    async def close(self) -> None:
        await self._client.close()


def _chunk(data: str, response: openai.AsyncAPIResponse[Any]) -> dict[str, Any]:
    """One stream chunk as JSON; an error the server sent inside the stream raises APIError."""
    import openai

    chunk = json.loads(data)
    if not isinstance(chunk, dict):
        raise ValueError(f"a stream chunk that is not an object: {data[:80]!r}")
    if chunk.get("error"):
        error = chunk["error"]
        message = error.get("message") if isinstance(error, dict) else None
        raise openai.APIError(
            str(message or "An error occurred during streaming"), response.http_response.request, body=error
        )
    return chunk


def _read(chunk: dict[str, Any], calls: dict[int, list[str]]) -> list[str]:
    """The chunk's text deltas; pieces of tool calls are gathered into `calls` by index."""
    texts: list[str] = []
    for choice in chunk.get("choices") or ():
        delta = choice.get("delta") or {}
        if content := delta.get("content"):
            texts.append(content)
        for call in delta.get("tool_calls") or ():
            entry = calls.setdefault(int(call.get("index", 0)), ["", ""])
            function = call.get("function")
            if function:
                entry[0] += function.get("name") or ""
                entry[1] += function.get("arguments") or ""
    return texts


async def sse_data(chunks: AsyncIterator[bytes]) -> AsyncIterator[str | None]:
    """The data of each server-sent event in a byte stream (multi-line data joined by newlines);
    None for each event after `[DONE]`, which ends the answer but not necessarily the body."""
    pending = b""
    data: list[bytes] = []
    done = False
    async for chunk in chunks:
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            if line.endswith(b"\r"):
                line = line[:-1]
            if line.startswith(b"data:"):
                value = line[5:]
                data.append(value[1:] if value.startswith(b" ") else value)
            elif not line and data:
                text = b"\n".join(data).decode()
                data = []
                done = done or text.startswith("[DONE]")
                yield None if done else text
    if data and not done:  # a last event without its blank line
        yield b"\n".join(data).decode()
