"""`supportbot report` on a seeded database (a real SQLite file, tests/analytics/seed.py), run as
the installed command runs: the terminal summary, `--json` (the stable contract), `--csv`, and the
`--html` page rendered by a real headless browser (Debian's chromium)."""

from __future__ import annotations

import csv
import io
import json
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.analytics.seed import seed
from tests.cli.test_cli import cli_env, run_cli
from tests.conversation.test_grounding import write_kb

PERIOD = ("--since", "2026-11-02", "--until", "2026-11-04")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
async def env(tmp_path: Path) -> dict[str, str]:
    write_kb(tmp_path)
    environment = cli_env(tmp_path, None)
    await seed(Path(environment["SUPPORTBOT_DATABASE__PATH"]), tmp_path / "kb")
    return environment


async def test_json_holds_the_seeded_figures(env: dict[str, str]) -> None:
    code, out, err = await run_cli("report", "--json", *PERIOD, env=env)
    assert (code, err) == (0, "")
    data = json.loads(out)
    expected = {
        "conversations": 6,
        "resolved_confirmed": 2,  # a 👍, and a rating of 5 after a handoff
        "resolved_assumed": 1,
        "escalated": 1,
        "negative": 1,
        "abandoned": 1,
        "pending": 0,
        "resolved_without_person": 2,
        "deflection_rate": 0.3333,
        "escalations": 2,
        "answers": 6,
        "ttft_p50_s": 2.5,  # of 0.5, 1, 2, 3, 4, 5 (interpolated between ranks)
        "ttft_p95_s": 4.75,
        "full_answer_p50_s": 4.5,  # of 0.5, 2, 4, 5, 6, 9
        "full_answer_p95_s": 8.25,
        "cost_usd": 0.011,
        "cost_per_conversation_usd": 0.001833,
        "cost_per_resolution_usd": 0.003667,
        "feedback_up": 1,
        "feedback_down": 1,
        "ratings": 1,
        "csat": 1.0,
        "abstain_rate": 0.3333,  # two answers found nothing, of six
        "cited_none_rate": 0.3333,  # one of the three that had passages cited none
    }
    assert {k: data[k] for k in expected} == expected
    assert [(g["name"], g["conversations"], g["resolved"]) for g in data["by_platform"]] == [
        ("slack", 3, 2), ("discord", 2, 1), ("console", 1, 0),
    ]  # fmt: skip
    assert [(g["name"], g["cost_usd"]) for g in data["by_channel"]] == [
        ("slack:C1", 0.009), ("discord:C2", 0.002), ("console:console", 0.0),
    ]  # fmt: skip
    gaps = [(g["question"], g["count"], g["escalated"], g["learned_entry"]) for g in data["coverage_gaps"]]
    assert gaps == [
        ("how do I merge two workspaces", 2, 2, 1),  # both merge questions; staff answered one since
        ("refund for an annual plan", 1, 0, None),
        ("hello", 1, 0, None),
    ]
    assert data["coverage_gaps"][1]["nearest_page"] == {
        "title": "Refunds", "url": "https://help.example.com/refunds",
    }  # fmt: skip


async def test_the_period_and_the_platform_filter_what_is_counted(env: dict[str, str]) -> None:
    code, out, _ = await run_cli(
        "report", "--json", "--since", "2026-11-03", "--until", "2026-11-03", env=env
    )
    assert code == 0 and json.loads(out)["conversations"] == 2
    code, out, _ = await run_cli("report", "--json", *PERIOD, "--platform", "discord", env=env)
    data = json.loads(out)
    assert (code, data["conversations"], data["escalated"], data["resolved_confirmed"]) == (0, 2, 1, 1)
    env = env | {"SUPPORTBOT_ANALYTICS__ASSUME_RESOLVED_HOURS": "100000"}
    code, out, _ = await run_cli("report", "--json", *PERIOD, env=env)
    assert (code, json.loads(out)["pending"], json.loads(out)["resolved_assumed"]) == (0, 2, 0)


async def test_bad_dates_and_clashing_formats_are_one_line_and_exit_2(env: dict[str, str]) -> None:
    code, _, err = await run_cli("report", "--since", "yesterday", env=env)
    assert code == 2 and "yesterday" in err and "Traceback" not in err
    code, _, err = await run_cli("report", "--json", "--csv", env=env)
    assert (code, err) == (2, "supportbot: --json and --csv print different things: choose one\n")
    code, _, err = await run_cli("report", "--since", "2026-11-05", "--until", "2026-11-04", env=env)
    assert (code, err) == (2, "supportbot: --since 2026-11-05 is after --until 2026-11-04\n")


async def test_csv_has_one_row_per_conversation(env: dict[str, str]) -> None:
    code, out, _ = await run_cli("report", "--csv", *PERIOD, env=env)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and len(rows) == 6
    assert [(r["thread"], r["outcome"], r["escalated"]) for r in rows] == [
        ("a", "resolved_confirmed", "0"), ("b", "negative", "0"), ("c", "resolved_confirmed", "1"),
        ("d", "resolved_assumed", "0"), ("e", "escalated", "1"), ("f", "abandoned", "0"),
    ]  # fmt: skip
    assert (rows[0]["cost_usd"], rows[0]["first_ttft_s"], rows[2]["rating"]) == ("0.002000", "1.000", "5")


async def test_the_terminal_summary_names_each_figure(env: dict[str, str]) -> None:
    code, out, _ = await run_cli("report", *PERIOD, env=env)
    assert code == 0
    lines = {" ".join(line.split()) for line in out.splitlines()}  # columns padded to their widest cell
    for line in (
        "conversations started 2026-11-02 to 2026-11-04: 6",
        "resolved confirmed 2 33.3%",
        "resolved without a person 2 33.3%",
        "time to first token p50 / p95 2.5 s / 4.75 s",
        "cost per resolution $0.0037",
        "discord 2 1 2 0.0020",
    ):
        assert line in lines, out
    assert "how do I merge two workspaces" in out and "learned #1" in out
    assert "\x1b[" not in out  # piped: plain text


class Rendered(HTMLParser):
    """What a rendered page holds: the bars of each chart (by the chart's id) and the gap rows."""

    def __init__(self) -> None:
        super().__init__()
        self.chart: str | None = None
        self.bars: dict[str, list[dict[str, str | None]]] = {}
        self.gap_rows = 0
        self.fetches: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "svg":
            self.chart = a.get("id")
            self.bars[self.chart or ""] = []
        elif tag == "rect" and a.get("class") == "bar" and self.chart:
            self.bars[self.chart].append(a)
        elif tag == "tr" and a.get("class") == "gap":
            self.gap_rows += 1
        if tag in ("script", "img", "link", "iframe") or "src" in a:
            self.fetches.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self.chart = None


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium)")
async def test_the_html_page_renders_its_charts_offline_in_a_headless_browser(
    env: dict[str, str], tmp_path: Path
) -> None:
    page = tmp_path / "report.html"
    code, out, _ = await run_cli("report", *PERIOD, "--html", str(page), env=env)
    assert code == 0 and f"wrote {page}" in out
    assert CHROMIUM is not None
    # No network: the page must show everything from the file alone.
    code, dom, err = await run_cli_binary(
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--proxy-server=127.0.0.1:9",
        "--dump-dom", page.as_uri(),
    )  # fmt: skip
    assert code == 0, err
    rendered = Rendered()
    rendered.feed(dom)
    assert set(rendered.bars) >= {"chart-outcomes", "chart-ttft", "chart-full", "chart-cost"}
    outcome_bars = {
        (b["data-column"], b["data-series"], b["data-value"]) for b in rendered.bars["chart-outcomes"]
    }
    assert outcome_bars == {
        ("2026-11-02", "resolved_confirmed", "1"), ("2026-11-02", "negative", "1"),
        ("2026-11-03", "resolved_confirmed", "1"), ("2026-11-03", "resolved_assumed", "1"),
        ("2026-11-04", "escalated", "1"), ("2026-11-04", "abandoned", "1"),
    }  # fmt: skip
    assert [(b["data-column"], b["data-value"]) for b in rendered.bars["chart-cost"]] == [
        ("11-02", "0.005"), ("11-03", "0.005"), ("11-04", "0.001"),
    ]  # fmt: skip
    assert sum(float(b["data-value"] or 0) for b in rendered.bars["chart-ttft"]) == 6  # every answer
    assert rendered.gap_rows == 3 and rendered.fetches == []


async def run_cli_binary(*args: str) -> tuple[int, str, str]:
    import asyncio

    proc = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=90)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()
