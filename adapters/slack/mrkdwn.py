"""Markdown (as models write it) → Slack mrkdwn, and escaping text for Slack.

Text from the model or a user never pings: `escape` (every mrkdwn path: posts, edits, notes, the
relay, cards) turns `<` into `&lt;`, so `<!channel>`, `<!here>`, `<!everyone>`, `<!subteam^…>` and
`<@U…>` show as typed; `defuse` does the same for Markdown that Slack renders itself (chat
streaming), with a zero-width space after the `<`, since Markdown is not mrkdwn-escaped. Both
also break a bare `@channel`, `@here` or `@everyone`, which Slack may link in blocks. The bot's own
mentions (the staff group on cards) are added after escaping.
"""

from __future__ import annotations

import re

FENCE = "```"
_FENCE_LINE = re.compile(r"^\s*```")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$")
_BULLET = re.compile(r"^(\s*)[-*+]\s+(.*)$")
_QUOTE = re.compile(r"^\s{0,3}>\s?(.*)$")
_RULE = re.compile(r"^\s{0,3}([-*_])(\s*\1){2,}\s*$")
_INLINE_CODE = re.compile(r"(`[^`\n]+`)")
_LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^)\s]+|mailto:[^)\s]+)\)")
_BOLD_ITALIC = re.compile(r"\*\*\*(?=\S)(.+?)(?<=\S)\*\*\*")
_BOLD = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_ITALIC_STAR = re.compile(r"(?<![*\w])\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?![*\w])")
_STRIKE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")
_BOLD_MARK = "\x00"  # stands in for "*" of bold until italics are converted
BREAK = "\u200b"  # zero-width space: shows nothing, but Slack no longer reads a mention
# "<" (or an entity for it) opening a user, user-group or special mention.
_ANGLE_MENTION = re.compile(
    r"(<|&lt;|&#0*60;|&#x0*3c;)(?=@|!(?:channel|here|everyone|subteam)\b)", re.IGNORECASE
)
# A bare special mention: "@here" as a word, not inside a URL or an address.
_BARE_MENTION = re.compile(r"(?<![\w/@.:=-])@(?=(?:channel|here|everyone)\b)", re.IGNORECASE)


def _defuse_bare(text: str) -> str:
    return _BARE_MENTION.sub("@" + BREAK, text)


def defuse(markdown: str) -> str:
    """Markdown for Slack to render, with every mention in it shown as typed but pinging nobody."""
    return _defuse_bare(_ANGLE_MENTION.sub(lambda m: m.group(1) + BREAK, markdown))


def escape(text: str) -> str:
    """Slack's three control characters, escaped as its docs require (so `<!here>` or `<@U…>`
    shows as typed and pings nobody), and bare `@here`-style mentions broken."""
    return _defuse_bare(text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))


def _inline(text: str) -> str:
    """Convert one line's inline Markdown, leaving `code` spans alone."""
    parts = _INLINE_CODE.split(text)
    for i in range(0, len(parts), 2):  # even parts are outside code spans
        part = escape(parts[i])
        part = _LINK.sub(lambda m: f"<{m.group(2)}|{m.group(1)}>", part)
        part = _BOLD_ITALIC.sub(lambda m: f"{_BOLD_MARK}_{m.group(1)}_{_BOLD_MARK}", part)
        part = _BOLD.sub(lambda m: f"{_BOLD_MARK}{m.group(2)}{_BOLD_MARK}", part)
        part = _ITALIC_STAR.sub(r"_\1_", part)
        part = _STRIKE.sub(r"~\1~", part)
        parts[i] = part.replace(_BOLD_MARK, "*")
    for i in range(1, len(parts), 2):
        parts[i] = escape(parts[i])
    return "".join(parts)


def to_mrkdwn(markdown: str) -> str:
    """Bold, italics, strike, links, headings, bullets, quotes and code blocks in Slack's dialect."""
    out: list[str] = []
    in_code = False
    for line in markdown.split("\n"):
        if _FENCE_LINE.match(line):
            # Slack ignores a language tag and would show it as text: drop it.
            in_code = not in_code
            out.append(FENCE)
            continue
        if in_code:
            out.append(escape(line))
            continue
        if heading := _HEADING.match(line):
            out.append(f"*{_inline(heading.group(1)).replace('*', '')}*")
        elif _RULE.match(line):
            out.append("───")
        elif bullet := _BULLET.match(line):
            out.append(f"{bullet.group(1)}• {_inline(bullet.group(2))}")
        elif quote := _QUOTE.match(line):
            out.append(f">{_inline(quote.group(1))}")
        else:
            out.append(_inline(line))
    if in_code:  # an unterminated block (e.g. while streaming) still renders as code
        out.append(FENCE)
    return "\n".join(out)
