"""The platform registry: which chat platforms are installed, and what the core asks of each.

Platforms plug in through the `supportbot.platforms` entry point group (see pyproject.toml): each
entry names an object satisfying `Platform`. The core never imports an adapter; it looks the
platforms up here, so a new platform is one package and one entry point.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Protocol, TextIO, runtime_checkable

from pydantic import SecretStr

if TYPE_CHECKING:
    from bot.service import SupportService
    from bot.settings import LoadedConfig

ENTRY_POINT_GROUP = "supportbot.platforms"


class AdapterStartError(Exception):
    """An adapter could not start; the message names the setting or permission to fix."""


class PlatformError(Exception):
    """A platform is not installed (its package or entry point is missing)."""


class PlatformAdapter(Protocol):
    """A running connection to one platform."""

    platform: str

    async def start(self) -> None:
        """Connect and begin receiving; return once serving (errors raise AdapterStartError)."""
        ...

    async def connected(self) -> bool:
        """Receiving now: the platform's connection is up (or its HTTP endpoint listening); /readyz
        is 503 while any started adapter says no."""
        ...

    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class OpsPage:
    """One answer of an ops endpoint (/healthz, /readyz, /metrics), for any HTTP server to send."""

    status: int
    content_type: str
    body: bytes


OpsEndpoint = Callable[[], Awaitable[OpsPage]]


@dataclass(frozen=True, slots=True)
class RunOptions:
    """What `supportbot run` was asked for: platforms named on the command line (empty: every
    configured one), with a mode where one was given (e.g. slack → "http"), and where to listen."""

    requested: Mapping[str, str] = field(default_factory=dict)  # platform → mode ("" = its default)
    host: str | None = None
    port: int | None = None
    # The ops endpoints by path (bot/ops/): a platform serving HTTP of its own answers them there too.
    ops: Mapping[str, OpsEndpoint] = field(default_factory=dict)

    def wants(self, platform: str) -> bool:
        return platform in self.requested


def given(secret: SecretStr | None) -> bool:
    """A secret that is set to something: an empty variable (`SLACK_SIGNING_SECRET=`) is not set."""
    return secret is not None and bool(secret.get_secret_value().strip())


@dataclass(frozen=True, slots=True)
class PlatformPlan:
    """Whether to start a platform (mode None: no) and what is missing for it."""

    mode: str | None
    problems: tuple[str, ...] = ()


@runtime_checkable
class Platform(Protocol):
    """A platform package's entry point object."""

    name: str

    def plan(self, config: LoadedConfig, options: RunOptions) -> PlatformPlan:
        """Start it? Requested platforms must be configured; unrequested ones start when they are
        configured and nothing was requested."""
        ...

    def build(
        self,
        service: SupportService,
        config: LoadedConfig,
        mode: str,
        options: RunOptions,
        on_lost: Callable[[str], None],
    ) -> PlatformAdapter:
        """The adapter to start, talking to the core through `service`; it calls `on_lost(problem)`
        if its connection ends for good after start."""
        ...


@dataclass(frozen=True, slots=True)
class LiveCheck:
    """One line of `supportbot check --live`: what was tried against the real service, and how it went."""

    name: str  # e.g. "slack auth.test"
    ok: bool
    detail: str  # what answered, or what to fix


@runtime_checkable
class LivePlatform(Protocol):
    """A platform that can try its credentials against the real service (`supportbot check --live`)."""

    async def check_live(self, config: LoadedConfig) -> list[LiveCheck]:
        """One check per credential that is set; [] when the platform is not configured."""
        ...


@runtime_checkable
class ChatPlatform(Protocol):
    """A platform that chats in this process's terminal (`supportbot chat`)."""

    async def chat(
        self,
        service: SupportService,
        config: LoadedConfig,
        *,
        thread: str,
        user_name: str,
        stdin: TextIO,
        stdout: TextIO,
        interactive: bool,
    ) -> None: ...


@runtime_checkable
class InvitePlatform(Protocol):
    """A platform that can print the link adding the bot to a server (`supportbot invite-url`)."""

    def invite(self, config: LoadedConfig, client_id: str | None) -> int: ...


def installed() -> dict[str, object]:
    """Every installed platform entry point, loaded, by name (sorted)."""
    found = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
    return {name: found[name].load() for name in sorted(found)}


def load(name: str) -> object:
    """One installed platform's entry point object."""
    for ep in entry_points(group=ENTRY_POINT_GROUP, name=name):
        return ep.load()
    raise PlatformError(
        f"platform {name!r} is not installed (no {ENTRY_POINT_GROUP!r} entry point; reinstall supportbot)"
    )


def runnable() -> list[Platform]:
    """The installed platforms `supportbot run` can start (the console only chats)."""
    return [p for p in installed().values() if isinstance(p, Platform)]
