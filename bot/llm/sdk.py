"""The openai SDK client every model and embeddings call goes through, with aiohttp under it.

The SDK's default HTTP stack (httpx2 over httpcore2, h11 and anyio, which asks sniffio for the
running event loop at every read) was the largest CPU cost of a streamed answer. With aiohttp's C
parser as the transport (the SDK's own `DefaultAioHttpClient`, its `aiohttp` extra) a Slack answer
costs 21 ms of CPU instead of 28 one at a time, and 13 instead of 15 at 20 at once
(`python -m bench --against`, bench/README.md). Requests, retries, timeouts and errors are still
the SDK's: the transport only carries the bytes (`_timed_out` and `_llm_error` in client.py
name what it reports differently). Proxies and CA bundles from the environment (HTTPS_PROXY,
NO_PROXY, SSL_CERT_FILE) are read by the SDK's client as before.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import openai


def openai_client(
    *, api_key: str, base_url: str | None, timeout_s: float, max_retries: int
) -> openai.AsyncOpenAI:
    """An AsyncOpenAI on the aiohttp transport; its connections open with the first request, in
    the running loop, and close with `await client.close()`."""
    import openai  # only where a model is configured: the SDK takes ~0.6 s to import

    return openai.AsyncOpenAI(
        api_key=api_key,
        base_url=base_url,
        timeout=timeout_s,
        max_retries=max_retries,
        http_client=openai.DefaultAioHttpClient(),
    )
