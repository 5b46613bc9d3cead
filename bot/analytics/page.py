"""`supportbot report --html FILE`: one self-contained page (inline CSS and SVG, no script, nothing
from the network) with the summary, outcomes over time, the latency distribution, cost per day and
the coverage gaps."""

from __future__ import annotations

from datetime import date, timedelta
from html import escape

from bot.analytics.charts import bars, histogram_bins, stacked_bars
from bot.analytics.outcomes import Outcome
from bot.analytics.report import Report

COLOURS = {
    Outcome.RESOLVED_CONFIRMED.value: "#1a9850",
    Outcome.RESOLVED_ASSUMED.value: "#91cf60",
    Outcome.ESCALATED.value: "#4575b4",
    Outcome.NEGATIVE.value: "#d73027",
    Outcome.ABANDONED.value: "#fdae61",
    Outcome.PENDING.value: "#bbbbbb",
}
LATENCY = (0.0, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 20.0)
STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;max-width:60rem;color:#222}
h1{font-size:1.5rem} h2{font-size:1.15rem;margin-top:2rem}
table{border-collapse:collapse} td,th{padding:.25rem .6rem;border-bottom:1px solid #ddd;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums} .muted{color:#666;font-size:.9rem}
"""


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


def _s(value: object) -> str:
    return "–" if value is None else f"{value} s"


def _days(report: Report) -> list[str]:
    day, days = report.since, []
    while day < report.until:
        days.append(day.isoformat())
        day += timedelta(days=1)
    return days


def render_page(report: Report) -> str:
    """The whole page as one string of HTML."""
    data = report.to_json()
    days = _days(report)
    outcomes = [(d, {o.value: n for o, n in report.per_day.get(_date(d), {}).items()}) for d in days]
    cost = [(d[5:], report.cost_per_day.get(_date(d), 0.0)) for d in days]
    rows = [
        ("Conversations", str(report.conversations)),
        *((o.value.replace("_", " "), f"{report.outcomes[o]} ({_pct(report.rate(o))})") for o in Outcome),
        ("Reopened", str(report.reopened)),
        ("Deflection rate (resolved without a person)", _pct(report.deflection_rate)),
        ("Time to first token p50 / p95", f"{_s(data['ttft_p50_s'])} / {_s(data['ttft_p95_s'])}"),
        ("Full answer p50 / p95", f"{_s(data['full_answer_p50_s'])} / {_s(data['full_answer_p95_s'])}"),
        ("Cost", f"${report.cost_usd:.4f}"),
        ("Cost per conversation / per resolution",
         f"{_usd(data['cost_per_conversation_usd'])} / {_usd(data['cost_per_resolution_usd'])}"),
        ("Thumbs up / down / That solved it",
         f"{report.feedback_up} / {report.feedback_down} / {report.solved_clicks}"),
        ("CSAT (ratings 4–5)", f"{_pct(report.csat)} of {len(report.ratings)}"),
        ("Abstained (nothing found)", _pct(report.abstain_rate)),
        ("Cited none of its passages", _pct(report.cited_none_rate)),
    ]  # fmt: skip
    summary = "".join(f"<tr><th>{escape(k)}</th><td class='n'>{escape(v)}</td></tr>" for k, v in rows)
    gaps = "".join(_gap_row(report, i) for i in range(len(report.coverage_gaps)))
    gap_table = (
        "<table id='coverage-gaps'><tr><th>Question</th><th>Times</th><th>Escalated</th>"
        f"<th>Nearest help page</th><th>Answered since</th></tr>{gaps}</table>"
        if gaps
        else "<p id='coverage-gaps' class='muted'>No unanswered or escalated questions.</p>"
    )
    where = f" on {escape(report.platform)}" if report.platform else ""
    last = report.until - timedelta(days=1)
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>supportbot report {report.since} – {last}</title><style>{STYLE}</style></head><body>"
        f"<h1>supportbot report{where}</h1>"
        f"<p class='muted'>Conversations started {report.since} to {last}. A conversation"
        f" is assumed resolved after {report.assume_resolved_hours:g} h without a new user message"
        " (see the README's analytics section for every rule).</p>"
        f"<table id='summary'>{summary}</table>"
        "<h2>Outcomes over time</h2>"
        + stacked_bars("chart-outcomes", "Conversations per day by outcome", outcomes, COLOURS)
        + "<h2>Latency distribution</h2><p class='muted'>Time to first token</p>"
        + bars("chart-ttft", "Time to first token", histogram_bins(report.ttft, LATENCY), "", "#4575b4")
        + "<p class='muted'>Time to the full answer</p>"
        + bars("chart-full", "Time to the full answer", histogram_bins(report.full, LATENCY), "", "#74add1")
        + "<h2>Cost per day</h2>"
        + bars("chart-cost", "Cost per day (USD)", cost, " $", "#f46d43")
        + f"<h2>Coverage gaps</h2>{gap_table}</body></html>"
    )


def _date(iso: str) -> date:
    return date.fromisoformat(iso)


def _usd(value: object) -> str:
    return "–" if value is None else f"${value:.4f}"


def _gap_row(report: Report, index: int) -> str:
    gap = report.coverage_gaps[index]
    page = (
        f"<a href='{escape(gap.nearest_url or '', quote=True)}'>{escape(gap.nearest_title)}</a>"
        if gap.nearest_title
        else "–"
    )
    entry = report.learned.get(gap.learned_id) if gap.learned_id is not None else None
    learned = (
        f"learned entry #{entry.id} (answered by our team on {(entry.decided_at or entry.created_at).date()})"
        if entry is not None
        else "–"
    )
    return (
        f"<tr class='gap'><td>{escape(gap.question)}</td><td class='n'>{gap.count}</td>"
        f"<td class='n'>{gap.escalated}</td><td>{page}</td><td>{escape(learned)}</td></tr>"
    )
