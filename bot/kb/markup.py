"""Turns Markdown, HTML and plain text into a title plus heading-delimited sections of display text.

Macro noise from doc generators (Zulip tabs, MkDocs admonitions and attribute lists, Jinja) is
removed so that only what a reader sees is indexed; each section's Markdown is then rendered to
display text (`bot.kb.render`: real list numbers, links kept, no raw tags).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import PurePath

from .render import markdown_to_display

MARKDOWN_SUFFIXES = frozenset({".md", ".markdown", ".mdx", ".mkd"})
TEXT_SUFFIXES = frozenset({".txt", ".text"})
HTML_SUFFIXES = frozenset({".html", ".htm"})
SUPPORTED_SUFFIXES = MARKDOWN_SUFFIXES | TEXT_SUFFIXES | HTML_SUFFIXES


@dataclass(frozen=True, slots=True)
class Section:
    """Text under one heading; `trail` holds the enclosing headings below the page title."""

    heading: str
    trail: tuple[str, ...]
    text: str


@dataclass(frozen=True, slots=True)
class ParsedPage:
    title: str
    sections: tuple[Section, ...]


def title_from_filename(path: PurePath) -> str:
    words = re.sub(r"[-_]+", " ", path.stem).strip()
    return words[:1].upper() + words[1:] if words else path.name


# ---------------------------------------------------------------- Markdown

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(?P<body>.*?)\n(?:---|\.\.\.)[ \t]*\n", re.DOTALL)
_FM_TITLE = re.compile(r"^title:\s*[\"']?(?P<title>.+?)[\"']?\s*$", re.MULTILINE)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_FENCE = re.compile(r"^\s*(```|~~~)")
_ATX = re.compile(r"^(#{1,6})[ \t]+(.*?)[ \t#]*$")
_ADMONITION = re.compile(r"^(\s*)(?:!!!|\?\?\?\+?)\s*[\w-]*(?:\s+\"(?P<title>[^\"]*)\")?\s*$")
_TAB_MARKER = re.compile(r"\{(?:start_tabs|end_tabs|tab\|[^{}]*)\}")
_STANDALONE_MACRO = re.compile(r"^(\s*)\{(tab|settings_tab|relative)\|([^{}]*)\}\s*$")
_MACRO = re.compile(r"\{([a-z_]+)\|([^{}]*)\}")
_JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)
_ATTR_LIST = re.compile(r"\{:?\s*[.#][^{}]*\}")
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_REF_LINK = re.compile(r"\[([^\]]+)\]\[[^\]]*\]")
_REF_DEF = re.compile(r"^\s*\[[^\]]+\]:\s*\S+.*$", re.MULTILINE)
_AUTOLINK = re.compile(r"<(https?://[^>]+)>")
_TAG = re.compile(r"</?[A-Za-z][^>]*>")
_EMPHASIS = re.compile(r"(\*\*|__|~~)(.+?)\1")
_CODE_SPAN = re.compile(r"`([^`]*)`")
# A list item that is nothing but a link: navigation ("Related articles", sidebars), not content.
_LINK_ITEM = re.compile(r"^\s*(?:[*+-]|\d+[.)])\s+\[[^\]]+\]\([^)]*\)[\s.,;]*$")


def _macro_words(match: re.Match[str]) -> str:
    """`{settings_tab|notifications}` -> "notifications"; arguments become plain words."""
    args = [a for a in match.group(2).split("|") if a]
    return " ".join(re.sub(r"[-_]+", " ", a) for a in args)


def _step_macro(line: str) -> str | None:
    """A Zulip macro standing alone on a line, as the step or label a reader sees there: a tab's
    name ("Mobile:"), or the step that opens a settings tab or a view (the steps after it are
    numbered from 2 in the source)."""
    found = _STANDALONE_MACRO.match(line)
    if found is None:
        return None
    indent, name, args = found.group(1), found.group(2), [a for a in found.group(3).split("|") if a]
    words = " ".join(re.sub(r"[-_]+", " ", a) for a in args)
    if name == "tab":
        return f"{indent}{words[:1].upper()}{words[1:]}:\n"
    if name == "settings_tab":
        gear = "the gear icon in the upper right corner"
        return f"{indent}1. Open Settings ({gear}) and choose the {words} tab."
    if name == "relative":
        return f"{indent}1. Go to {words}."
    return None


def strip_macros(line: str) -> str:
    """A Markdown line without doc-generator macros, Jinja and attribute lists (links and list
    markers kept, for the Markdown renderer)."""
    step = _step_macro(line)
    if step is not None:
        return step
    line = _TAB_MARKER.sub("", line)
    line = _JINJA.sub("", line)
    line = _MACRO.sub(_macro_words, line)
    line = _ATTR_LIST.sub("", line)
    return line.rstrip()


def clean_inline(line: str) -> str:
    """A line reduced to its plain words (headings and titles)."""
    line = _TAB_MARKER.sub("", line)
    line = _JINJA.sub("", line)
    line = _MACRO.sub(_macro_words, line)
    line = _ATTR_LIST.sub("", line)
    line = _IMAGE.sub(r"\1", line)
    line = _LINK.sub(r"\1", line)
    line = _REF_LINK.sub(r"\1", line)
    line = _AUTOLINK.sub(r"\1", line)
    line = _TAG.sub("", line)
    line = _EMPHASIS.sub(r"\2", line)
    line = _CODE_SPAN.sub(r"\1", line)
    return line.rstrip()


class _SectionBuilder:
    def __init__(self, render: bool = False) -> None:
        self._render = render  # the lines are Markdown, rendered to display text at each flush
        self.references = ""  # the page's link reference definitions, for the renderer
        self.title: str | None = None
        self.first_heading: str | None = None
        self.sections: list[Section] = []
        self._stack: list[tuple[int, str]] = []
        self._lines: list[str] = []

    def heading(self, level: int, text: str) -> None:
        self.flush()
        if self.first_heading is None:
            self.first_heading = text
        if level == 1 and self.title is None:
            self.title = text
            self._stack = []
            return
        while self._stack and self._stack[-1][0] >= level:
            self._stack.pop()
        self._stack.append((level, text))

    def line(self, text: str) -> None:
        self._lines.append(text)

    def flush(self) -> None:
        text = "\n".join(self._lines)
        text = markdown_to_display(f"{text}\n\n{self.references}") if self._render else text
        text = re.sub(r"\n{3,}", "\n\n", text).strip()
        self._lines = []
        if not text:
            return
        trail = tuple(h for _, h in self._stack)
        heading = trail[-1] if trail else ""
        self.sections.append(Section(heading=heading, trail=trail, text=text))

    def page(self, fallback_title: str) -> ParsedPage:
        self.flush()
        title = self.title or self.first_heading or fallback_title
        sections = tuple(
            Section(heading=s.heading or title, trail=s.trail, text=s.text) for s in self.sections
        )
        return ParsedPage(title=title, sections=sections)


def _dedent_admonition(raw: str, indent: int | None) -> tuple[str, int | None]:
    """Inside an admonition's body (its marker at `indent`), the line one level less indented, so
    it reads as the text it is and not as a code block; the indent of the body still open."""
    if indent is None or not raw.strip():
        return raw, indent
    if len(raw) - len(raw.lstrip()) >= indent + 4:
        return raw[:indent] + raw[indent + 4 :], indent
    return raw, None


def parse_markdown(text: str, fallback_title: str) -> ParsedPage:
    builder = _SectionBuilder(render=True)
    front = _FRONT_MATTER.match(text)
    if front:
        found = _FM_TITLE.search(front.group("body"))
        if found:
            builder.title = found.group("title")
        text = text[front.end() :]
    text = _COMMENT.sub("", text)
    # Reference-style link targets are usually at the page's end: every section is rendered with them.
    builder.references = "\n".join(m.group(0).strip() for m in _REF_DEF.finditer(text))
    text = _REF_DEF.sub("", text)
    in_fence = False
    admonition_indent: int | None = None  # the body of an admonition, dedented to its marker's level
    for raw in text.splitlines():
        if _FENCE.match(raw):
            in_fence = not in_fence
            builder.line(raw.rstrip())
            continue
        if in_fence:
            builder.line(raw.rstrip())
            continue
        raw, admonition_indent = _dedent_admonition(raw, admonition_indent)
        if _LINK_ITEM.match(raw):
            continue
        heading = _ATX.match(raw)
        if heading:
            builder.heading(len(heading.group(1)), clean_inline(heading.group(2)).strip())
            continue
        admonition = _ADMONITION.match(raw)
        if admonition:
            admonition_indent = len(admonition.group(1))
            if admonition.group("title"):
                builder.line(admonition.group(1) + admonition.group("title"))
            continue
        builder.line(strip_macros(raw))
    return builder.page(fallback_title)


# ---------------------------------------------------------------- plain text


def parse_text(text: str, fallback_title: str) -> ParsedPage:
    body = re.sub(r"\n{3,}", "\n\n", text.replace("\r\n", "\n")).strip()
    section = Section(heading=fallback_title, trail=(), text=body)
    return ParsedPage(title=fallback_title, sections=(section,) if body else ())


# ---------------------------------------------------------------- HTML

_SKIP_TAGS = frozenset({"script", "style", "nav", "header", "footer", "noscript", "template", "svg"})
_BLOCK_TAGS = frozenset(
    {
        "p",
        "div",
        "li",
        "ul",
        "ol",
        "br",
        "tr",
        "table",
        "section",
        "article",
        "pre",
        "blockquote",
        "dd",
        "dt",
        "main",
        "aside",
        "hr",
        "td",
        "th",
    }
)
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_ABSOLUTE_URL = re.compile(r"^(?:https?://|mailto:)", re.IGNORECASE)


class _HTMLText(HTMLParser):
    def __init__(self, builder: _SectionBuilder) -> None:
        super().__init__(convert_charrefs=True)
        self.builder = builder
        self.doc_title: str | None = None
        self._skip = 0
        self._in_title = False
        self._heading: int | None = None
        self._buf: list[str] = []
        self._lists: list[list[int]] = []  # per open list: [next number] (<ol>) or [] (<ul>)
        self._marker = ""  # the list marker for the next line written
        self._links: list[tuple[int, str | None]] = []  # open <a>: where its text starts, its href

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self._skip += 1
        elif tag == "title":
            self._in_title = True
        elif tag in _HEADINGS:
            self._emit()
            self._heading = _HEADINGS[tag]
        elif tag == "a":
            href = dict(attrs).get("href") or ""
            self._links.append((len(self._buf), href if _ABSOLUTE_URL.match(href) else None))
        elif tag in _BLOCK_TAGS:
            self._emit()
            self._list_start(tag, attrs)

    def _list_start(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "ol":
            start = dict(attrs).get("start") or "1"
            self._lists.append([int(start) if start.isdigit() else 1])
        elif tag == "ul":
            self._lists.append([])
        elif tag == "li" and self._lists:
            counter = self._lists[-1]
            self._marker = f"{counter[0]}. " if counter else "- "
            if counter:
                counter[0] += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS and self._skip:
            self._skip -= 1
        elif tag == "title":
            self._in_title = False
        elif tag == "a" and self._links:
            start, href = self._links.pop()
            text = " ".join("".join(self._buf[start:]).split())
            if href and text:
                self._buf[start:] = [f"[{text}]({href})"]
        elif tag in _HEADINGS and self._heading is not None:
            text = " ".join("".join(self._buf).split())
            self._buf = []
            if text:
                self.builder.heading(self._heading, text)
            self._heading = None
        elif tag in _BLOCK_TAGS:
            self._emit()
            if tag in ("ol", "ul") and self._lists:
                self._lists.pop()
                self.builder.line("")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.doc_title = " ".join(((self.doc_title or "") + " " + data).split())
        elif not self._skip:
            self._buf.append(data)

    def _emit(self) -> None:
        if self._heading is not None:
            return
        text = " ".join("".join(self._buf).split())
        self._buf = []
        if not text:
            return
        if self._marker:
            indent = "   " * (len(self._lists) - 1)
            self.builder.line(f"{indent}{self._marker}{text}")  # list items stay together
            self._marker = ""
            return
        self.builder.line(text)
        self.builder.line("")

    def close(self) -> None:
        super().close()
        self._emit()


def parse_html(text: str, fallback_title: str) -> ParsedPage:
    builder = _SectionBuilder()
    parser = _HTMLText(builder)
    parser.feed(text)
    parser.close()
    page = builder.page(fallback_title)
    if builder.title is None and parser.doc_title:
        return ParsedPage(title=parser.doc_title, sections=page.sections)
    return page


def parse_page(text: str, path: PurePath) -> ParsedPage:
    """Parse by file suffix; unknown suffixes are treated as plain text."""
    fallback = title_from_filename(path)
    suffix = path.suffix.lower()
    if suffix in MARKDOWN_SUFFIXES:
        return parse_markdown(text, fallback)
    if suffix in HTML_SUFFIXES:
        return parse_html(text, fallback)
    return parse_text(text, fallback)
