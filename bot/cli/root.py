"""The `supportbot` group: global options (accepted before or after the subcommand), settings loading,
and the one-line failures every command shares."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

if TYPE_CHECKING:
    from bot.settings import LoadedConfig

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
CONTEXT = {"help_option_names": ["-h", "--help"]}

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class State:
    """What the global options said, wherever they were given (`ctx.obj` of every command)."""

    config_path: Path | None = None
    verbose: bool = False

    def load(self, *, service: bool = False) -> LoadedConfig:
        """Load the settings and set up the log (log.format); a bad setting ends the command (exit 2).
        A service (`supportbot run`) logs at INFO; other commands only warnings unless -v."""
        from bot.logs import redact_logs, setup_logging
        from bot.settings import SettingsError, load_config

        level = logging.INFO if self.verbose or service else logging.WARNING
        try:
            config = load_config(self.config_path)
        except SettingsError as exc:
            fail(str(exc))
        setup_logging(level, config.settings.log.format)
        from bot.pii import Redactor

        privacy = config.settings.privacy
        redact_logs(config.secrets, Redactor(privacy.phone_region) if privacy.applies_to("logs") else None)
        return config

    def run(self, work: Callable[[LoadedConfig], int], *, service: bool = False) -> int:
        """`work(config)`'s exit code; a missing platform or a database path SQLite can't use is one
        line and exit 2, a database this version cannot use one line and exit 1 (never a traceback)."""
        from bot.platforms import PlatformError
        from bot.storage.migrations import MigrationError
        from bot.storage.store import StoreOpenError

        config = self.load(service=service)
        try:
            return work(config)
        except (PlatformError, StoreOpenError) as exc:
            fail(str(exc))
        except MigrationError as exc:
            fail(str(exc), 1)


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    """End the command with `supportbot: message` on stderr."""
    click.echo(f"supportbot: {message}", err=True)
    raise click.exceptions.Exit(code)


def _set_config(ctx: click.Context, _: click.Parameter, value: Path | None) -> None:
    if value is not None:
        ctx.ensure_object(State).config_path = value


def _set_verbose(ctx: click.Context, _: click.Parameter, value: bool) -> None:
    if value:
        ctx.ensure_object(State).verbose = True


def global_options(command: F) -> F:
    """`--config` and `-v`, on the group and on every subcommand (`supportbot chat --config X`)."""
    verbose = click.option(
        "-v",
        "--verbose",
        is_flag=True,
        expose_value=False,
        callback=_set_verbose,
        help="log progress to stderr",
    )
    config = click.option(
        "--config",
        type=click.Path(dir_okay=False, path_type=Path),
        expose_value=False,
        callback=_set_config,
        help="settings file, layered over the packaged defaults (env SUPPORTBOT_CONFIG)",
    )
    return config(verbose(command))


def build() -> click.Group:
    """The `supportbot` group with every command (each module loads its own parts when run)."""
    from bot.cli import chat, check, inspect, kb, privacy, report, serve

    @click.group(context_settings=CONTEXT)
    @click.version_option(package_name="supportbot", prog_name="supportbot", message="%(prog)s %(version)s")
    @global_options
    def supportbot() -> None:
        """AI customer-support bot."""

    for command in (
        chat.chat, serve.run, serve.invite_url, inspect.history, inspect.stats, inspect.escalations,
        check.check, privacy.forget, kb.kb_commands(kb.run_in_app), report.report,
    ):  # fmt: skip
        supportbot.add_command(command)
    return supportbot
