"""Ids that arrive as text from a platform (button values, custom ids): parsed strictly and bounded.

Only ASCII digits count (`"²".isdigit()` is True, `int("١")` works), at most 19 of them, and the
value must fit the database's 64-bit integer; anything else is not an id.
"""

from __future__ import annotations

MAX_ID = 2**63 - 1  # SQLite's (and Postgres's BIGINT) largest integer
MAX_DIGITS = len(str(MAX_ID))
# A regex for ids inside a longer string (Discord custom ids): 18 digits always fit MAX_ID.
ID_PATTERN = "[0-9]{1,18}"


def parse_id(text: str) -> int | None:
    """The id `text` spells in ASCII digits, or None for anything else (empty, signs, spaces, too big)."""
    if not 0 < len(text) <= MAX_DIGITS or not text.isascii() or not text.isdigit():
        return None
    value = int(text)
    return value if value <= MAX_ID else None
