"""`supportbot check --live`: each configured service tried for real, as a checklist; exit 1 on a failure.

The model gets a 1-token request, each platform checks its own tokens (through the platform
registry: the core imports no platform library), the database takes one write that is rolled back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

import click

from bot.platforms import LiveCheck, LivePlatform, installed
from bot.settings import LoadedConfig

EXIT_FAILED = 1
CHECK_TIMEOUT_S = 30.0  # one check's whole time, its retries included


def live_checks(config: LoadedConfig) -> int:
    results = asyncio.run(_all(config))
    click.echo("live checks:")
    for result in results:
        click.echo(f"  [{' ok ' if result.ok else 'FAIL'}] {result.name}: {result.detail}")
    failed = sum(not r.ok for r in results)
    click.echo(f"live: {len(results) - failed} passed, {failed} failed")
    return EXIT_FAILED if failed else 0


async def _all(config: LoadedConfig) -> list[LiveCheck]:
    results = await _bounded("llm", _llm(config))
    for name, platform in installed().items():
        if isinstance(platform, LivePlatform):
            results += await _bounded(name, platform.check_live(config))
    return results + await _bounded("database write", _database(config))


async def _bounded(name: str, check: Awaitable[list[LiveCheck]]) -> list[LiveCheck]:
    """The check's lines, or one failed line when it took too long."""
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            return await check
    except TimeoutError:
        return [LiveCheck(name, False, f"no answer within {CHECK_TIMEOUT_S:g} s")]


async def _llm(config: LoadedConfig) -> list[LiveCheck]:
    """A 1-token completion: the endpoint, the key and the model name all answer."""
    from bot.app import build_llm
    from bot.llm.client import LLMError

    llm = build_llm(config)
    where = config.secrets.openai_base_url or "https://api.openai.com/v1"
    if llm is None:
        return []  # no model configured: the bot answers from the knowledge base (check says so)
    try:
        await llm.complete([{"role": "user", "content": "ping"}], max_tokens=1)
    except LLMError as exc:
        fix = "check OPENAI_API_KEY" if exc.kind.value == "auth" else "check OPENAI_BASE_URL and llm.model"
        return [
            LiveCheck(
                "llm", False, f"{llm.model} at {where}: {exc.kind.value}: {exc.detail.rstrip('.')}; {fix}"
            )
        ]
    finally:
        await llm.close()
    return [LiveCheck("llm", True, f"{llm.model} at {where} answered a 1-token request")]


async def _database(config: LoadedConfig) -> list[LiveCheck]:
    """One write, rolled back, through the store the bot opens."""
    from bot.app import open_store

    where = config.settings.database.path.resolve()
    try:
        async with open_store(config) as store:
            await store.probe_write()
    except Exception as exc:  # the store's own errors differ by backend; each is one line here
        return [LiveCheck("database write", False, f"{where}: {type(exc).__name__}: {exc}")]
    return [LiveCheck("database write", True, f"{where} took a write (rolled back)")]
