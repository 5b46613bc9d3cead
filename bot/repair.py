"""Text from outside made readable and storable: bytes that aren't text, and lone surrogates, become U+FFFD.

A platform's JSON may carry "\\ud800" as an escape, and Python decodes bytes it can't read as
"surrogate escapes" (e.g. on a terminal with the C locale); SQLite, like every UTF-8 writer, refuses
both. Every inbound text passes through `repaired()` once, at the core's door (bot/service.py); the
console's stdin is read through `lenient()`, so a stray Latin-1 byte is a "\ufffd", not a traceback.
"""

from __future__ import annotations

import dataclasses
import io
from typing import TextIO

from bot.events import IncomingMessage, ThreadKey

REPLACEMENT = "\ufffd"


def repair(text: str) -> str:
    """`text` with each lone surrogate replaced by U+FFFD; a surrogate pair becomes its character."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text


def repaired(msg: IncomingMessage) -> IncomingMessage:
    """The message with every text field repaired: its text, sender, ids and conversation key."""
    key = msg.key
    fixed_key = ThreadKey(*(repair(part) for part in (key.platform, key.workspace, key.channel, key.thread)))
    return dataclasses.replace(
        msg,
        key=fixed_key if fixed_key != key else key,
        message_id=repair(msg.message_id),
        user_id=repair(msg.user_id),
        user_name=repair(msg.user_name),
        text=repair(msg.text),
    )


def lenient(stream: TextIO) -> TextIO:
    """`stream` (stdin or stdout) with undecodable or unencodable characters replaced by U+FFFD / "?"."""
    if isinstance(stream, io.TextIOWrapper):
        stream.reconfigure(errors="replace")
    return stream
