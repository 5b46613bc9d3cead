"""The table `python -m bench` prints: each target, the bot's figure, the floor's, the ratio, the load."""

from __future__ import annotations

from dataclasses import dataclass

from bench.e2e import Result, Series

CPU_TARGET = 1.3  # CPU per answer, bot / floor
P50_TARGET = 1.05  # end-to-end p50, bot / floor
P99_TARGET = 1.15


@dataclass(frozen=True, slots=True)
class Row:
    what: str
    bot: str
    floor: str
    ratio: str
    target: str
    ok: bool | None  # None: shown for information, no target
    load: str


def rows_of(results: list[Result]) -> list[Row]:
    rows: list[Row] = []
    for r in results:
        where = f"{r.platform}, {r.concurrency} at once"
        load = f"{min(r.bot.loads + r.floor.loads):.2f}–{max(r.bot.loads + r.floor.loads):.2f}"
        for name, bot, floor, target, unit in (
            ("CPU per answer", r.bot.cpu_ms(), r.floor.cpu_ms(), CPU_TARGET, "ms"),
            ("end to end p50", r.bot.pct(0.5), r.floor.pct(0.5), P50_TARGET, "ms"),
            ("end to end p99", r.bot.pct(0.99), r.floor.pct(0.99), P99_TARGET, "ms"),
        ):
            ratio = bot / floor if floor else float("inf")
            spread = round_spread(r) if name == "CPU per answer" else ""
            rows.append(
                Row(f"{where}: {name}", f"{bot:.1f} {unit}", f"{floor:.1f} {unit}", f"{ratio:.2f}x{spread}",
                    f"<= {target:.2f}x", ratio <= target, load)
            )  # fmt: skip
        if r.before.samples:  # --against: this tree's bot beside the other tree's, no target
            rows += _against_rows(r, where, load)
        sign = r.bot.sign_p50()
        if sign is not None:
            label = "first sign" if r.platform == "slack" else "first text"
            rows.append(Row(f"{where}: {label} p50", f"{sign:.1f} ms", "-", "-", "-", None, load))
        if r.sql and r.concurrency == 1:
            counts = f"{r.sql.get('trips', 0):.1f} / {r.sql.get('statements', 0):.1f}"
            rows.append(
                Row(f"{r.platform}: SQLite trips / statements per answer", counts, "-", "-", "-", None, "-")
            )
    return rows


def _against_rows(r: Result, where: str, load: str) -> list[Row]:
    rows = []
    for name, bot, before in (
        ("CPU per answer", r.bot.cpu_ms(), r.before.cpu_ms()),
        ("end to end p50", r.bot.pct(0.5), r.before.pct(0.5)),
        ("end to end p99", r.bot.pct(0.99), r.before.pct(0.99)),
    ):
        ratio = bot / before if before else float("inf")
        spread = round_spread(r, r.before) if name == "CPU per answer" else ""
        rows.append(
            Row(f"{where}: {name}, bot / before", f"{bot:.1f} ms", f"before {before:.1f} ms",
                f"{ratio:.2f}x{spread}", "-", None, load)
        )  # fmt: skip
    return rows


def round_spread(r: Result, other: Series | None = None) -> str:
    """The lowest and highest CPU ratio of one round's bot and the round of the floor (or `other`)
    beside it (the machine's speed drifts between runs: the spread says how far one run's ratio
    can be trusted)."""
    beside = (r.floor if other is None else other).round_cpu_ms
    pairs = [(b, f) for b, f in zip(r.bot.round_cpu_ms, beside, strict=False) if f > 0]
    if len(pairs) < 2:
        return ""
    ratios = [b / f for b, f in pairs]
    return f" ({min(ratios):.2f}–{max(ratios):.2f})"


def print_table(rows: list[Row]) -> None:
    head = Row("target", "bot", "floor", "ratio", "target", None, "load (1 min)")
    width = [
        max(len(getattr(r, f)) for r in (head, *rows))
        for f in ("what", "bot", "floor", "ratio", "target", "load")
    ]
    for r in (head, *rows):
        verdict = "" if r is head else ("-" if r.ok is None else "met" if r.ok else "MISSED")
        cells = (r.what, r.bot, r.floor, r.ratio, r.target, r.load)
        print("  ".join(c.ljust(w) for c, w in zip(cells, width, strict=True)) + f"  {verdict}")


def print_sql(results: list[Result]) -> None:
    """Where the bot's SQLite trips and statements per answer come from (one at a time)."""
    for r in results:
        if r.concurrency != 1 or not r.sql:
            continue
        answers = len(r.bot.samples)
        print(f"\n{r.platform}: SQLite trips per answer by caller, then statements per answer")
        for name, n in sorted(r.callers.items(), key=lambda kv: -kv[1]):
            print(f"  {n / answers:5.2f}  {name}")
        for text, n in sorted(r.statements.items(), key=lambda kv: -kv[1]):
            if n / answers >= 0.05:
                print(f"  {n / answers:5.2f}  {text}")
