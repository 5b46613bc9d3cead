"""`python -m bench --quick` runs every bench end to end (its fakes, the bot and the floor as their
own processes) and prints a row for every target with a verdict, and with `--against` the rows of
another tree's bot beside this one's; its figures are not checked."""

from __future__ import annotations

import subprocess
import sys

from bench.e2e import Result, Series
from bench.table import round_spread
from tests.conftest import REPO

TARGETS = [
    f"{platform}, {n} at once: {what}"
    for platform in ("slack", "discord")
    for n in (1, 2)
    for what in ("CPU per answer", "end to end p50", "end to end p99")
]


def test_the_quick_bench_prints_a_row_with_a_verdict_for_every_target() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--sql", "--against", str(REPO)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert lines[0].startswith("python -m bench --quick --sql --against") and "load average" in lines[0]
    rows = {line.split("  ")[0]: line for line in lines[2:]}
    expected = [*TARGETS, "memory, 200 stored + 20 active: RSS"]
    assert [name for name in rows if name in expected] == expected
    for name in expected:
        assert rows[name].rstrip().endswith(("met", "MISSED")), rows[name]
    assert "slack: SQLite trips / statements per answer" in rows  # counted with --sql only
    against = [f"{name}, bot / before" for name in TARGETS]  # --against: the other tree's bot, in turn
    assert [name for name in rows if name in against] == against
    for name in against:
        assert " before " in rows[name] and rows[name].rstrip().endswith("-"), rows[name]


def test_the_cpu_ratio_shows_how_far_its_rounds_spread() -> None:
    """Each round's bot against the floor's round beside it: lowest and highest ratio."""
    result = Result(
        "slack", 20, bot=Series(round_cpu_ms=[10.0, 12.0, 11.0]), floor=Series(round_cpu_ms=[5.0] * 3)
    )
    assert round_spread(result) == " (2.00–2.40)"
    assert (
        round_spread(Result("slack", 1, bot=Series(round_cpu_ms=[9.0]), floor=Series(round_cpu_ms=[6.0])))
        == ""
    )
