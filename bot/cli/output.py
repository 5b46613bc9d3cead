"""Tables for the terminal (Rich) and for pipes (plain aligned columns, no escape codes)."""

from __future__ import annotations

from collections.abc import Sequence


def print_table(rows: Sequence[tuple[str, ...]], *, right_align: bool = False) -> None:
    """`rows[0]` is the header. A terminal gets a Rich table; a pipe or file gets columns padded to
    their widest cell, the first left-aligned and the rest as asked."""
    from rich.console import Console

    console = Console()
    if not console.is_terminal:
        _print_plain(rows, right_align=right_align)
        return
    from rich import box
    from rich.table import Table
    from rich.text import Text

    table = Table(box=box.SIMPLE_HEAD)
    for i, title in enumerate(rows[0]):
        table.add_column(Text(title), justify="right" if right_align and i else "left")
    for row in rows[1:]:
        table.add_row(*(Text(cell) for cell in row))  # Text: a "[…]" in a reason is not markup
    console.print(table)


def _print_plain(rows: Sequence[tuple[str, ...]], *, right_align: bool) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        cells = [
            c.ljust(w) if i == 0 or not right_align else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ]
        print("  ".join(cells).rstrip())
