"""What every bench shares: fake servers in processes of their own, off the bot's event loop."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parent.parent


@contextmanager
def fake_openai_process(latency_s: float) -> Iterator[str]:
    """Run tests.fakes.openai_server in a child process (its own core); yield its base URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.openai_server", "--port", "0", "--latency", str(latency_s)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        if not url.startswith("http"):
            raise SystemExit(f"fake OpenAI server did not start (said {url!r})")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@dataclass(frozen=True, slots=True)
class ServedFake:
    """A fake platform running as its own process (tests.fakes.serve)."""

    kind: str  # slack, discord, openai
    url: str  # the base URL a client is given
    env: dict[str, str]  # the environment variables that point a client at it
    process: subprocess.Popen[str]

    @property
    def control(self) -> str:
        """The root of its /_fake/ control routes."""
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}/_fake/"


@contextmanager
def served_fake(kind: str, *options: str, cwd: Path = REPO) -> Iterator[ServedFake]:
    """Run `python -m tests.fakes.serve KIND OPTIONS...` (see its docstring for the options); yield it
    once it listens, and stop it (SIGTERM) afterwards."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.serve", kind, *options],
        stdout=subprocess.PIPE,
        text=True,
        cwd=cwd,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        env_line = proc.stdout.readline().strip()
        if not url.startswith("http") or not env_line.startswith("{"):
            raise SystemExit(f"fake {kind} server did not start (said {url!r})")
        yield ServedFake(kind, url, json.loads(env_line), proc)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
