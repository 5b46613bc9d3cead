"""`supportbot run` as a real process: started from the venv's console script, killed with SIGKILL,
restarted on the same database; its stdout and stderr appended to one log file."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

SUPPORTBOT = Path(sys.executable).parent / "supportbot"  # the installed console script beside python
STOP_S = 30.0  # a SIGTERM'd bot gets this long to drain before SIGKILL


@dataclass
class BotProcess:
    args: list[str]  # after `supportbot run`
    env: dict[str, str]
    log: Path
    ready: Callable[[], Awaitable[bool]]  # is the bot serving? (asked until it is)
    ready_within: float = 60.0
    process: asyncio.subprocess.Process | None = None
    starts: int = 0
    kills: int = 0
    down_s: list[float] = field(default_factory=list)  # per kill: seconds until serving again

    async def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                str(SUPPORTBOT), "run", *self.args, env=self.env, stdout=log, stderr=log
            )
        self.starts += 1
        await self._until_ready()

    async def _until_ready(self) -> None:
        deadline = time.monotonic() + self.ready_within
        while not await self.ready():
            if self.process is not None and self.process.returncode is not None:
                raise RuntimeError(f"supportbot run exited with {self.process.returncode}; see {self.log}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"supportbot run not serving within {self.ready_within:.0f} s; {self.log}")
            await asyncio.sleep(0.05)

    async def kill_and_restart(self, pause_s: float) -> None:
        """kill -9 now, and start again after `pause_s` (a supervisor's restart delay)."""
        assert self.process is not None
        killed = time.monotonic()
        os.kill(self.process.pid, signal.SIGKILL)
        await self.process.wait()
        self.kills += 1
        with self.log.open("ab") as log:
            log.write(f"=== soak: kill -9 number {self.kills} ===\n".encode())
        await asyncio.sleep(pause_s)
        await self.start()
        self.down_s.append(time.monotonic() - killed)

    async def stop(self) -> int | None:
        """SIGTERM, then SIGKILL if it hasn't exited within STOP_S; its exit code."""
        if self.process is None or self.process.returncode is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(self.process.wait(), STOP_S)
        except TimeoutError:
            self.process.kill()
            return await self.process.wait()
