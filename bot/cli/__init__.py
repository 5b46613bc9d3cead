"""The `supportbot` command (Click): `main(argv)` runs it and returns the exit code, `entry()` exits.

One module per command group (chat, serve, inspect, check, kb); each imports only Click at the
top and loads the bot's parts inside its command, so `supportbot --help` starts fast.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from bot.cli.root import EXIT_INTERRUPTED, State, build


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line `argv` (default: the process's); returns the exit code."""
    try:
        code = build().main(
            args=list(argv) if argv is not None else None,
            prog_name="supportbot",
            standalone_mode=False,
            obj=State(),
        )
    except click.ClickException as exc:  # usage errors: exit 2, as argparse did
        exc.show()
        return exc.exit_code
    except click.Abort:  # Ctrl-C
        return EXIT_INTERRUPTED
    return code if isinstance(code, int) else 0


def entry() -> None:
    sys.exit(main())
