"""`supportbot report`: outcomes, latency, cost, feedback and coverage gaps of a period, in the
terminal (Rich), as JSON (`--json`, a stable contract), CSV (`--csv`, one row per conversation) or
one self-contained HTML page (`--html FILE`). The figures are in bot/analytics/."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import click

from bot.cli.output import print_table
from bot.cli.root import State, fail, global_options

if TYPE_CHECKING:
    from bot.analytics.outcomes import Judged
    from bot.analytics.report import Report
    from bot.settings import LoadedConfig

DEFAULT_DAYS = 30


@dataclass(frozen=True, slots=True)
class Period:
    since: date
    until: date  # exclusive
    platform: str | None


@click.command(help="outcomes, latency, cost, feedback and coverage gaps of a period")
@click.option(
    "--since", type=click.DateTime(["%Y-%m-%d"]), default=None, help="first day (default: 30 days ago)"
)
@click.option(
    "--until", type=click.DateTime(["%Y-%m-%d"]), default=None, help="last day, included (default: today)"
)
@click.option("--platform", default=None, help="only this platform (slack, discord, console)")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object (a stable contract)")
@click.option("--csv", "as_csv", is_flag=True, help="print one CSV row per conversation")
@click.option(
    "--html",
    "html_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="also write a self-contained HTML page with charts to FILE",
)
@global_options
@click.pass_obj
def report(
    state: State,
    since: datetime | None,
    until: datetime | None,
    platform: str | None,
    as_json: bool,
    as_csv: bool,
    html_file: Path | None,
) -> int:  # fmt: skip
    if as_json and as_csv:
        fail("--json and --csv print different things: choose one")
    last = until.date() if until else datetime.now(UTC).date()
    first = since.date() if since else last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        fail(f"--since {first} is after --until {last}")
    period = Period(first, last + timedelta(days=1), platform)
    mode = "json" if as_json else "csv" if as_csv else "terminal"
    return state.run(lambda config: asyncio.run(_report(config, period, mode, html_file)))


async def gather(config: LoadedConfig, period: Period, now: datetime) -> tuple[Report, list[Judged]]:
    """Read the period's conversations, judge them and compute the report (gaps included)."""
    from bot.analytics.gaps import coverage_gaps
    from bot.analytics.outcomes import judge_all
    from bot.analytics.report import build_report
    from bot.app import open_store
    from bot.kb import KnowledgeBase

    settings = config.settings
    start = datetime.combine(period.since, time(), UTC)
    end = datetime.combine(period.until, time(), UTC)
    async with open_store(config) as store:
        activities = await store.activity(start, end)
        if period.platform:
            activities = [a for a in activities if a.conversation.key.platform == period.platform]
        hours = settings.analytics.assume_resolved_hours
        judged = judge_all(activities, now, hours)
        built = build_report(
            judged,
            since=period.since,
            until=period.until,
            platform=period.platform,
            assume_resolved_hours=hours,
        )
        learned = await store.learned_entries()
        kb = None
        if settings.kb.enabled:
            kb = KnowledgeBase(store.db, settings.kb, write_lock=store.write_lock)
            await kb.setup()
        built.coverage_gaps = await coverage_gaps(judged, kb, learned)
        built.learned = {e.id: e for e in learned}
    return built, judged


async def _report(config: LoadedConfig, period: Period, mode: str, html_file: Path | None) -> int:
    from bot.analytics.export import to_csv
    from bot.analytics.page import render_page

    built, judged = await gather(config, period, datetime.now(UTC))
    if html_file is not None:
        try:
            await asyncio.to_thread(html_file.write_text, render_page(built), encoding="utf-8")
        except OSError as exc:
            fail(f"cannot write {html_file}: {exc.strerror or exc}", 1)
    if mode == "json":
        click.echo(json.dumps(built.to_json(), ensure_ascii=False, indent=2))
    elif mode == "csv":
        click.echo(to_csv(judged), nl=False)
    else:
        print_summary(built)
        if html_file is not None:
            click.echo(f"wrote {html_file}")
    return 0


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _num(value: object, unit: str = "") -> str:
    return "-" if value is None else f"{value}{unit}"


def print_summary(r: Report) -> None:
    from bot.analytics.outcomes import Outcome

    data = r.to_json()
    where = f" on {r.platform}" if r.platform else ""
    until = r.until - timedelta(days=1)
    click.echo(f"conversations started {r.since} to {until}{where}: {r.conversations}")
    rows: list[tuple[str, ...]] = [("outcome", "conversations", "rate")]
    rows += [(o.value.replace("_", " "), str(r.outcomes[o]), _pct(r.rate(o))) for o in Outcome]
    rows.append(
        ("reopened", str(r.reopened), _pct(r.reopened / r.conversations if r.conversations else None))
    )
    rows.append(("resolved without a person", str(r.deflected), _pct(r.deflection_rate)))
    print_table(rows, right_align=True)
    figures: list[tuple[str, ...]] = [("figure", "value")]
    figures += [
        ("time to first token p50 / p95", _pair(data, "ttft")),
        ("full answer p50 / p95", _pair(data, "full_answer")),
        ("visible sign p50 / p95", _pair(data, "sign")),
        ("cost", f"${r.cost_usd:.4f}"),
        ("cost per conversation", _usd(data["cost_per_conversation_usd"])),
        ("cost per resolution", _usd(data["cost_per_resolution_usd"])),
        ("👍 / 👎", f"{r.feedback_up} / {r.feedback_down}"),
        ("That solved it", str(r.solved_clicks)),
        ("CSAT (ratings 4–5)", f"{_pct(r.csat)} of {len(r.ratings)} ratings"),
        ("abstained (nothing found)", f"{_pct(r.abstain_rate)} of {r.answers} answers"),
        ("cited none of its passages", _pct(r.cited_none_rate)),
    ]  # fmt: skip
    print_table(figures)
    for title, groups in (("platform", r.by_platform), ("channel", r.by_channel)):
        if groups:
            table: list[tuple[str, ...]] = [(title, "conversations", "resolved", "escalated", "cost USD")]
            table += [
                (g.name, str(g.conversations), str(g.resolved), str(g.escalated), f"{g.cost_usd:.4f}")
                for g in groups
            ]
            print_table(table, right_align=True)
    if not r.coverage_gaps:
        click.echo("coverage gaps: none (no unanswered or escalated questions)")
        return
    gaps: list[tuple[str, ...]] = [
        ("coverage gap (question)", "times", "escalated", "nearest help page", "answered since")
    ]
    for g in r.coverage_gaps:
        entry = r.learned.get(g.learned_id) if g.learned_id is not None else None
        since = f"learned #{entry.id}" if entry is not None else "-"
        page = f"{g.nearest_title} ({g.nearest_url})" if g.nearest_title else "-"
        gaps.append((g.question[:80], str(g.count), str(g.escalated), page, since))
    print_table(gaps)


def _pair(data: dict[str, object], name: str) -> str:
    return f"{_num(data[f'{name}_p50_s'], ' s')} / {_num(data[f'{name}_p95_s'], ' s')}"


def _usd(value: object) -> str:
    return "-" if value is None else f"${value:.4f}"
