"""Help-page Markdown to the display text the knowledge base stores, and that text for readers.

Display text is a small Markdown subset every surface can show: paragraphs, lists numbered as a
reader counts them (`1.` on every line in the source becomes 1, 2, 3), `- ` bullets, code blocks
kept verbatim, and links as `[text](https://…)`; raw HTML tags, emphasis markers and images are
gone. Search and embeddings read its `plain` form (links reduced to their text). Slack and Discord
render the Markdown links themselves (the Slack adapter turns them into mrkdwn); the console gets
`text (url)`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

from markdown_it import MarkdownIt
from markdown_it.token import Token

_LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^)\s]+|mailto:[^)\s]+)\)")
_TAG = re.compile(r"</?[A-Za-z][^>]*>")
_SPACES = re.compile(r"[ \t]{2,}")
_ABSOLUTE = re.compile(r"^(?:https?://|mailto:)", re.IGNORECASE)
_LIST_TOKENS = frozenset(
    {"ordered_list_open", "bullet_list_open", "ordered_list_close", "bullet_list_close", "list_item_open"}
)
_PLATFORMS_WITHOUT_MARKDOWN = frozenset({"console"})


def plain(display: str) -> str:
    """Display text with its links reduced to their text (what search indexes)."""
    return _LINK.sub(r"\1", display)


def _text_and_url(link: re.Match[str]) -> str:
    text, url = link.group(1), link.group(2)
    return text if text == url else f"{text} ({url})"


def for_platform(display: str, platform: str) -> str:
    """Display text as `platform` shows it: Markdown links, or `text (url)` where none render."""
    if platform in _PLATFORMS_WITHOUT_MARKDOWN:
        return _LINK.sub(
            lambda m: m.group(1) if m.group(1) == m.group(2) else f"{m.group(1)} ({m.group(2)})", display
        )
    return display


def _inline(children: Sequence[Token]) -> str:
    """One inline run: text and code as written, links kept when absolute, tags and markers gone."""
    out: list[str] = []
    hrefs: list[str | None] = []
    for token in children:
        kind = token.type
        if kind in ("text", "code_inline"):
            out.append(token.content)
        elif kind == "softbreak":
            out.append(" ")
        elif kind == "hardbreak":
            out.append("\n")
        elif kind == "image":
            out.append(token.content)
        elif kind == "link_open":
            href = str(token.attrGet("href") or "")
            hrefs.append(href if _ABSOLUTE.match(href) else None)
            out.append("\x00")  # where the link's text starts
        elif kind == "link_close":
            target = hrefs.pop() if hrefs else None
            start = max(i for i, part in enumerate(out) if part == "\x00")
            text = "".join(out[start + 1 :]).strip()
            del out[start:]
            out.append(f"[{text}]({target})" if target and text else text)
    return _SPACES.sub(" ", "".join(out)).strip()


class _Blocks:
    """Walks markdown-it's block tokens, writing lines with list numbers and indentation."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._lists: list[list[int]] = []  # per open list: [next number] (ordered) or [] (bullets)
        self._prefix: list[str] = []  # the marker waiting for an item's first line

    def _indent(self) -> str:
        return "   " * max(len(self._lists) - 1, 0)

    def _write(self, text: str) -> None:
        for n, line in enumerate(text.split("\n")):
            marker = self._prefix.pop() if n == 0 and self._prefix else ("   " if self._lists else "")
            self.lines.append(f"{self._indent()}{marker}{line}".rstrip())

    def _list(self, token: Token) -> None:
        kind = token.type
        if kind == "ordered_list_open":
            self._lists.append([int(token.attrGet("start") or 1)])
        elif kind == "bullet_list_open":
            self._lists.append([])
        elif kind in ("ordered_list_close", "bullet_list_close"):
            self._lists.pop()
            self.lines.append("")
        elif self._lists:  # list_item_open
            counter = self._lists[-1]
            if counter:
                self._prefix = [f"{counter[0]}. "]
                counter[0] += 1
            else:
                self._prefix = ["- "]

    def token(self, token: Token) -> None:
        kind = token.type
        if kind in _LIST_TOKENS:
            self._list(token)
        elif kind == "inline":
            text = _inline(token.children or [])
            if text.strip():
                self._write(text)
        elif kind == "paragraph_close" and not self._lists:
            self.lines.append("")
        elif kind in ("fence", "code_block"):
            self._write(token.content.rstrip("\n"))
            self.lines.append("")
        elif kind == "html_block":
            text = " ".join(_TAG.sub(" ", token.content).split())
            if text:
                self._write(text)
                self.lines.append("")


@functools.cache
def _parser() -> MarkdownIt:
    """One CommonMark parser, built on first use (building one costs more than a page's parse)."""
    return MarkdownIt("commonmark")


def markdown_to_display(markdown: str) -> str:
    """Render one section's Markdown to display text (see the module docstring)."""
    blocks = _Blocks()
    for token in _parser().parse(markdown):
        blocks.token(token)
    text = "\n".join(blocks.lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()
