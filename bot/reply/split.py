"""Cut a long answer into message-sized pieces on paragraph or line breaks, never leaving a code fence open.

Every platform caps a message (Discord at 2,000 characters, Slack's chat.update near 4,000). A code block
cut in two is closed at the end of one piece and reopened (with its language) at the start of the next,
so both render as code.
"""

from __future__ import annotations

from dataclasses import dataclass

FENCE = "```"
_CLOSE = "\n" + FENCE
_MAX_OPENER = 24  # "```" plus a language name; longer info strings are not repeated


@dataclass(frozen=True, slots=True)
class _Break:
    at: int  # index of the newline; the piece ends here
    outside: bool  # not inside a code block at this point
    paragraph: bool  # a blank line


def _toggle(line: str, opener: str | None) -> str | None:
    """The fence state after `line`: the opener of the open code block, or None."""
    for _ in range(line.count(FENCE)):
        if opener is not None:
            opener = None
        else:
            stripped = line.strip()
            lang = stripped[len(FENCE) :].split(maxsplit=1) if stripped.startswith(FENCE) else []
            opener = (FENCE + lang[0])[:_MAX_OPENER] if lang and FENCE not in lang[0] else FENCE
    return opener


def _breaks(text: str, room: int, opener: str | None) -> list[_Break]:
    """The line breaks within text[:room + 1], each knowing whether a code block is open there."""
    breaks: list[_Break] = []
    pos = 0
    state = opener
    while pos <= room:
        end = text.find("\n", pos)
        if end == -1 or end > room:
            break
        state = _toggle(text[pos:end], state)
        breaks.append(_Break(end, state is None, text.startswith("\n", end + 1)))
        pos = end + 1
    return breaks


def _cut(text: str, room: int, opener: str | None) -> tuple[int, int]:
    """Where to end the next piece (index, characters to drop there), at most `room` characters in."""
    breaks = [b for b in _breaks(text, room, opener) if b.at > 0]
    half, quarter = room // 2, room // 4
    # Best first: a blank line outside code, any line outside code, any line (the fence is reopened).
    for chosen in (
        [b for b in breaks if b.outside and b.paragraph and b.at >= half],
        [b for b in breaks if b.outside and b.at >= half],
        [b for b in breaks if b.at >= quarter],
    ):
        if chosen:
            return chosen[-1].at, 1
    space = text.rfind(" ", 0, room + 1)
    if space >= quarter and space > 0:
        return space, 1
    return room, 0


def fence_state(text: str, opener: str | None = None) -> str | None:
    """The opener of the code block still open at the end of `text`, or None."""
    for line in text.split("\n"):
        opener = _toggle(line, opener)
    return opener


def split_message(text: str, limit: int) -> list[str]:
    """Pieces of at most `limit` characters; blank pieces are dropped."""
    pieces: list[str] = []
    opener: str | None = None
    rest = text
    while True:
        prefix = f"{opener}\n" if opener else ""
        if len(prefix) + len(rest) <= limit:
            pieces.append(prefix + rest)
            break
        room = max(limit - len(prefix) - len(_CLOSE), 1)
        at, skip = _cut(rest, room, opener)
        piece = rest[:at]
        opener = fence_state(piece, opener)
        pieces.append(prefix + piece + (_CLOSE if opener else ""))
        rest = rest[at + skip :]
        if opener is None:
            rest = rest.lstrip("\n")  # blank lines between paragraphs are not worth a message
    return [p for p in pieces if p.strip()]
