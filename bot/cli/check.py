"""`supportbot check`: validate the settings, the install and say which platforms are configured;
with `--live`, also try each configured service for real (bot/cli/live.py)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from bot.cli.root import EXIT_USAGE, State, global_options

if TYPE_CHECKING:
    from bot.settings import LoadedConfig

DISTRIBUTION = "supportbot"
TOP_LEVEL = ("bot", "adapters")  # the generic names this distribution installs


@click.command(help="validate settings and say which platforms are configured")
@click.option(
    "--live",
    is_flag=True,
    help="also try each configured service: a 1-token LLM call, Slack auth.test, Discord users/@me,"
    " a database write (exit 1 if any fails)",
)
@global_options
@click.pass_obj
def check(state: State, live: bool) -> int:
    return state.run(lambda config: _check(config, live))


def _check(config: LoadedConfig, live: bool) -> int:
    problems = _settings(config) + _install()
    _handoff(config)
    _platforms(config)
    if problems:
        return EXIT_USAGE
    if live:
        from bot.cli.live import live_checks

        return live_checks(config)
    return 0


def _settings(config: LoadedConfig) -> int:
    import tiktoken

    s = config.settings
    where = f"{config.config_file} over the packaged defaults" if config.config_file else "packaged defaults"
    print(f"settings: ok ({where}: {config.defaults_dir})")
    print(f"system prompt: {config.system_prompt_path}")
    if s.database.postgres:
        from bot.storage.postgres.connection import safe_url

        print(f"database: {safe_url(s.database.url)} (knowledge-base index: {s.database.path.resolve()})")
    else:
        print(f"database: {s.database.path.resolve()}")
    if config.secrets.openai_api_key is None:
        print("llm: not configured — set OPENAI_API_KEY (and OPENAI_BASE_URL if not OpenAI)")
    else:
        print(f"llm: {s.llm.model} at {config.secrets.openai_base_url or 'https://api.openai.com/v1'}")
    if s.model_info() is None:
        print(
            f"llm: no context window or price for '{s.llm.model}' in [models]: assuming"
            f" {s.llm.default_context_window:,} tokens and recording no cost"
        )
    if s.llm.encoding != "auto" and s.llm.encoding not in tiktoken.list_encoding_names():
        print(
            f"settings: llm.encoding = {s.llm.encoding!r}: not a tiktoken encoding"
            f" (use auto or one of {', '.join(tiktoken.list_encoding_names())})"
        )
        return 1
    return 0


def _install() -> int:
    """One line per top-level package another distribution also installs, or that is imported
    from somewhere else than this distribution's files (they would overwrite or shadow ours)."""
    from importlib.metadata import distribution, packages_distributions
    from importlib.util import find_spec

    owners = packages_distributions()
    dist = distribution(DISTRIBUTION)
    listed = {str(f): f for f in dist.files or ()}
    problems = 0
    for name in TOP_LEVEL:
        others = sorted({d for d in owners.get(name, []) if d.lower() != DISTRIBUTION})
        spec = find_spec(name)
        ours = listed.get(f"{name}/__init__.py")  # absent from an editable install's record
        origin = Path(spec.origin).resolve() if spec is not None and spec.origin else None
        foreign = ours is not None and origin != Path(str(dist.locate_file(ours))).resolve()
        if others or foreign:
            also = f"also installed by {', '.join(others)}" if others else f"imported from {origin}"
            print(
                f"install: the top-level package '{name}' is {also}: give supportbot a virtual"
                " environment of its own (python -m venv, or pipx install)"
            )
            problems += 1
    if not problems:
        print(f"install: {DISTRIBUTION} {dist.version}, packages {', '.join(TOP_LEVEL)} are its own")
    return problems


def _handoff(config: LoadedConfig) -> None:
    s = config.settings
    staff = s.escalation.staff_channel
    if staff.platform and staff.channel:
        print(f"handoff: staff cards go to {staff.platform} channel {staff.channel}")
    else:
        print(
            "handoff: no staff channel — escalations are recorded but nobody is notified"
            " (set escalation.staff_channel.platform and .channel)"
        )
    if not s.escalation.staff_user_ids and not s.escalation.staff_role_ids:
        print("handoff: no staff listed — nobody can claim or resolve (escalation.staff_user_ids)")


def _platforms(config: LoadedConfig) -> None:
    """The same rules `supportbot run` applies, one platform at a time."""
    from bot.platforms import RunOptions
    from bot.runner import plan

    print("platform console: ready")
    for platform in ("slack", "discord"):
        run, missing = plan(config, RunOptions(requested={platform: ""}))
        if missing:
            print(f"platform {platform}: not configured — {'; '.join(missing)}")
        else:
            mode = run.mode(platform)
            how = f" ({mode} mode)" if platform == "slack" else _shards(config)
            print(f"platform {platform}: configured{how}")


def _shards(config: LoadedConfig) -> str:
    discord = config.settings.discord
    shards = discord.shards()
    if not shards:
        return " (one gateway connection: every server and the DMs)"
    ids = ", ".join(str(s) for s in shards)
    dms = "; the DMs arrive here" if 0 in shards else "; the DMs arrive at the instance with shard 0"
    return f" (shard{'s' if len(shards) > 1 else ''} {ids} of {discord.shard_count}{dms})"
