"""The `supportbot` command: chat in the console, inspect history and stats, check settings."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import tiktoken

from bot.app import build_llm, open_store, running_app
from bot.conversation.answer_check import ModelCheck
from bot.conversation.prompt import render_system_prompt
from bot.events import ThreadKey
from bot.kb.cli import add_kb_parser, run_kb_command
from bot.kb.embeddings import build_embedder
from bot.platforms import ChatPlatform, InvitePlatform, PlatformError, RunOptions, load
from bot.runner import plan, serve
from bot.settings import LoadedConfig, SettingsError, load_config
from bot.storage.migrations import MigrationError

EXIT_USAGE = 2


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="supportbot", description="AI customer-support bot.")
    p.add_argument(
        "--config",
        type=Path,
        help="settings file (default: config/settings.toml; env SUPPORTBOT_CONFIG)",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    chat = sub.add_parser("chat", help="talk to the bot in this terminal (or pipe questions in)")
    chat.add_argument("--thread", help="conversation name to start or resume (default: a new one)")
    chat.add_argument("--user", default=None, help="your display name (default: login name)")

    hist = sub.add_parser("history", help="print one stored conversation")
    hist.add_argument("--thread", required=True, help="conversation name (the console's --thread)")
    hist.add_argument("--platform", default="console", help="platform of the conversation")
    hist.add_argument("--channel", default=None, help="channel id (default: the console's)")
    hist.add_argument("--workspace", default="", help="workspace id (Slack team, Discord guild)")
    hist.add_argument("--limit", type=int, default=200, help="most recent messages to show")

    run = sub.add_parser("run", help="serve Slack and/or Discord (every configured platform by default)")
    run.add_argument("--slack", action="store_true", help="start Slack (Socket Mode if SLACK_APP_TOKEN)")
    run.add_argument("--slack-http", action="store_true", help="start Slack in HTTP Events API mode")
    run.add_argument("--discord", action="store_true", help="start Discord")
    run.add_argument("--host", default=None, help="HTTP mode: address to listen on (slack.http_host)")
    run.add_argument("--port", type=int, default=None, help="HTTP mode: port (slack.http_port)")
    invite = sub.add_parser("invite-url", help="print the link that adds the Discord bot to a server")
    invite.add_argument("--client-id", default=None, help="application id (default: from DISCORD_BOT_TOKEN)")

    sub.add_parser("escalations", help="open escalations: state, age, platform and reason")
    add_kb_parser(sub)
    sub.add_parser("stats", help="conversations, messages, tokens and cost by model")
    sub.add_parser("check", help="validate settings and say which platforms are configured")
    return p


async def _chat(config: LoadedConfig, args: argparse.Namespace) -> int:
    interactive = sys.stdin.isatty()
    thread = args.thread or datetime.now().strftime("console-%Y%m%d-%H%M%S")
    async with running_app(config) as app:
        if app.llm is None:
            print(
                "supportbot: no LLM is configured — set OPENAI_API_KEY (and OPENAI_BASE_URL for"
                " another OpenAI-compatible server) to get model answers.",
                file=sys.stderr,
            )
        if interactive:
            print(
                f"{config.settings.bot.name} — conversation '{thread}' (resume with --thread"
                f" {thread}). Type /escalate [reason] to reach a person, /quit or Ctrl-D to leave.\n"
            )
        console = load("console")
        assert isinstance(console, ChatPlatform)
        await console.chat(
            app.service,
            app.config,
            thread=thread,
            user_name=args.user or getpass.getuser(),
            stdin=sys.stdin,
            stdout=sys.stdout,
            interactive=interactive,
        )
    return 0


async def _history(config: LoadedConfig, args: argparse.Namespace) -> int:
    channel = args.channel if args.channel is not None else ("console" if args.platform == "console" else "")
    key = ThreadKey(args.platform, args.workspace, channel, args.thread)
    async with open_store(config) as store:
        conv = await store.find_conversation(key)
        if conv is None:
            print(f"supportbot: no conversation '{args.thread}' on {args.platform}", file=sys.stderr)
            return 1
        print(f"conversation {args.thread} ({args.platform}), state: {conv.state}")
        for m in await store.messages(conv.id, args.limit):
            who = m.user_name or m.user_id if m.role == "user" else m.role
            when = m.created_at.astimezone().strftime("%Y-%m-%d %H:%M:%S")
            flag = f" [{m.status}{': ' + m.error if m.error else ''}]" if m.status == "failed" else ""
            print(f"{when}  {who}{flag}: {m.text}")
    return 0


def _duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours < 48 else f"{hours // 24}d{hours % 24:02d}h"


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def _escalations(config: LoadedConfig) -> int:
    async with open_store(config) as store:
        rows = await store.open_escalations()
    if not rows:
        print("no open escalations")
        return 0
    now = datetime.now(UTC)
    table = [("state", "age", "platform", "conversation", "requested by", "reason")]
    for record, key in rows:
        where = "/".join(p for p in (key.workspace, key.channel, key.thread) if p)
        table.append(
            (record.state, _duration((now - record.requested_at).total_seconds()), key.platform,
             where, record.requested_by, record.reason or "-")
        )  # fmt: skip
    _print_table(table)
    return 0


async def _kb(config: LoadedConfig, args: argparse.Namespace) -> int:
    settings = config.settings
    embedder = build_embedder(settings.kb.embeddings)
    llm = build_llm(config) if getattr(args, "with_llm", False) else None
    judge = None
    if llm is not None:
        system = render_system_prompt(
            config.system_prompt, bot_name=settings.bot.name, company=settings.bot.company,
            today=datetime.now(UTC).date(),
        )  # fmt: skip
        judge = ModelCheck(llm, system, settings.kb)
    try:
        async with open_store(config) as store:
            return await run_kb_command(args, store.db, settings.kb, embedder=embedder, judge=judge)
    finally:
        if embedder is not None:
            await embedder.close()
        if llm is not None:
            await llm.close()


def _print_table(rows: Sequence[tuple[str, ...]], *, right_align: bool = False) -> None:
    """Columns padded to their widest cell; the first column left-aligned, the rest as asked."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        cells = [
            c.ljust(w) if i == 0 or not right_align else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ]
        print("  ".join(cells).rstrip())


async def _stats(config: LoadedConfig) -> int:
    async with open_store(config) as store:
        s = await store.stats()
    print(f"conversations  {s.conversations:>10,}")
    print(f"messages       {s.messages:>10,}")
    print(f"escalations    {s.escalations:>10,}  ({s.open_escalations:,} open)")
    for label, values in (("time to claim", s.seconds_to_claim), ("time to resolve", s.seconds_to_resolve)):
        if values:
            p50, p90 = _percentile(values, 0.5), _percentile(values, 0.9)
            print(f"{label}: p50 {_duration(p50)}, p90 {_duration(p90)} ({len(values):,} escalations)")
    if not s.by_model:
        print("no model usage recorded yet")
        return 0
    rows = [("model", "replies", "prompt tok", "completion tok", "cost USD")]
    for m in [*s.by_model, None]:
        models = s.by_model if m is None else [m]
        rows.append(
            (
                "total" if m is None else m.model,
                f"{sum(x.replies for x in models):,}",
                f"{sum(x.prompt_tokens for x in models):,}",
                f"{sum(x.completion_tokens for x in models):,}",
                f"{sum(x.cost_usd for x in models):.4f}",
            )
        )
    _print_table(rows, right_align=True)
    return 0


def _check(config: LoadedConfig) -> int:
    s, problems = config.settings, 0
    print(f"settings: ok ({config.config_file or 'built-in defaults'})")
    print(f"system prompt: {config.system_prompt_path}")
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
        problems += 1
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
    print("platform console: ready")
    # The same rules `supportbot run` applies, one platform at a time.
    for platform in ("slack", "discord"):
        run, missing = plan(config, RunOptions(requested={platform: ""}))
        if missing:
            print(f"platform {platform}: not configured — {'; '.join(missing)}")
        else:
            mode = run.mode(platform)
            print(f"platform {platform}: configured{f' ({mode} mode)' if platform == 'slack' else ''}")
    return EXIT_USAGE if problems else 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        config = load_config(args.config)
    except SettingsError as exc:
        print(f"supportbot: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        if args.command == "chat":
            return asyncio.run(_chat(config, args))
        if args.command == "history":
            return asyncio.run(_history(config, args))
        if args.command == "run":
            requested: dict[str, str] = {}
            if args.slack or args.slack_http:
                requested["slack"] = "http" if args.slack_http else ""
            if args.discord:
                requested["discord"] = ""
            run, problems = plan(config, RunOptions(requested, host=args.host, port=args.port))
            if problems:
                for problem in problems:
                    print(f"supportbot: {problem}", file=sys.stderr)
                return EXIT_USAGE
            return asyncio.run(serve(config, run))
        if args.command == "invite-url":
            discord = load("discord")  # discord.py loads only when asked for
            assert isinstance(discord, InvitePlatform)
            return discord.invite(config, args.client_id)
        if args.command == "escalations":
            return asyncio.run(_escalations(config))
        if args.command == "kb":
            return asyncio.run(_kb(config, args))
        if args.command == "stats":
            return asyncio.run(_stats(config))
        return _check(config)
    except PlatformError as exc:
        print(f"supportbot: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except MigrationError as exc:  # a database this version cannot use: one line, no traceback
        print(f"supportbot: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def entry() -> None:
    sys.exit(main())
