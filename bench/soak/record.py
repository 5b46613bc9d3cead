"""What users can see: the fake platform's journal, followed line by line, as the bot's messages now are.

A message is final once it carries an answer's buttons (Slack: an actions block, Discord: components)
and is no stream left open; anything else still visible at the end is a fragment (a half-written
answer). `place` is where a message appears: "channel/thread_ts" on Slack ("D…/" for a DM's top
level), the channel or thread id on Discord.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.serve import Journal


@dataclass
class Visible:
    """One bot message as it now is."""

    place: str
    text: str
    final: bool
    created_at: float
    final_at: float | None = None  # when it first became final


def slack_place(channel: str, thread_ts: str | None) -> str:
    return f"{channel}/{thread_ts or ''}"


@dataclass
class Record:
    journal: Journal
    messages: dict[str, Visible] = field(default_factory=dict)  # by the platform's id of it
    by_place: defaultdict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    threads: set[str] = field(default_factory=set)  # Discord threads the bot started (ids)
    faults: Counter[str] = field(default_factory=Counter)  # the LLM's requests by fault ("" = none)
    last_change: float = 0.0  # time.time() of the last line read
    llm_journal: Journal | None = None

    def update(self) -> None:
        """Read what the fakes noted since the last call."""
        for line in self.journal.read_new():
            self.last_change = max(self.last_change, float(line["at"]))
            if line["kind"] == "message":
                self._message(line)
            elif line["kind"] == "thread":
                self.threads.add(str(line["id"]))
        if self.llm_journal is not None:
            for line in self.llm_journal.read_new():
                self.faults[line.get("fault") or ""] += 1

    def _message(self, line: dict[str, Any]) -> None:
        if "ts" in line:  # Slack
            key, place = str(line["ts"]), slack_place(line["channel"], line.get("thread_ts"))
        else:
            key, place = str(line["id"]), str(line["channel_id"])
        if line["op"] == "delete":
            gone = self.messages.pop(key, None)
            if gone is not None:
                self.by_place[gone.place].remove(key)
            return
        final = bool(line["buttons"]) and not line.get("open", False)
        seen = self.messages.get(key)
        if seen is None:
            seen = self.messages[key] = Visible(place, line["text"], final, float(line["at"]))
            self.by_place[place].append(key)
        seen.text, seen.final = line["text"], final
        if final and seen.final_at is None:
            seen.final_at = float(line["at"])

    def in_place(self, place: str) -> list[Visible]:
        return [self.messages[k] for k in self.by_place.get(place, [])]

    def answers_in(self, place: str) -> int:
        """Final bot messages in a place: how many answers users there have seen."""
        return sum(v.final for v in self.in_place(place))
