"""The soak's workload, drawn from a seed: conversations (threads) and the messages users write in them.

Each message carries a tag ("q000123") that the fake LLM's echo copies into the answer, so an answer
on the platform names the message it answers; a fallback (the model failed) names none.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

TAG = re.compile(r"\bq(\d{6,})\b")
DM_SHARE = 0.5  # of threads: a direct message conversation; the rest start with a mention in a channel
BURST_SHARE = 0.1  # of follow-ups: sent without waiting for the answer to the one before
MENTION_SHARE = 0.5  # of follow-ups in a channel thread: with a mention of the bot


def tag_of(number: int) -> str:
    return f"q{number:06d}"


@dataclass(eq=False)
class Message:
    number: int  # unique over the run
    thread: Thread
    index: int  # 0 = the message that starts the thread
    burst: bool  # a follow-up sent at once, without waiting for the answer before
    mention: bool  # a follow-up in a channel thread that mentions the bot
    sent_at: float | None = None  # time.time() of its first delivery
    platform_id: str = ""  # the platform's id of it (Slack ts, Discord message id), once sent
    unseen: bool = False  # written while no bot was connected (Discord: only in the channel's history)
    answers_before: int = 0  # final answers in its thread when it was written (one more: answered)

    @property
    def tag(self) -> str:
        return tag_of(self.number)

    @property
    def text(self) -> str:
        return f"Question {self.tag} in thread {self.thread.number}: how do I reset my password?"


@dataclass(eq=False)
class Thread:
    number: int
    dm: bool  # a DM conversation; else a channel (server) thread started by a mention
    messages: list[Message] = field(default_factory=list)
    place: str = ""  # where its answers belong on the platform, once its first message is sent
    next_index: int = 0  # the next message to send

    @property
    def sent(self) -> list[Message]:
        return self.messages[: self.next_index]


@dataclass
class Plan:
    threads: list[Thread]

    @property
    def messages(self) -> list[Message]:
        return [m for t in self.threads for m in t.messages]


def make_plan(messages: int, threads: int, rng: random.Random) -> Plan:
    """`messages` over `threads` (each gets at least one; the rest at random)."""
    threads = max(1, min(threads, messages))
    sizes = [1] * threads
    for _ in range(messages - threads):
        sizes[rng.randrange(threads)] += 1
    plan = Plan([Thread(n, dm=rng.random() < DM_SHARE) for n in range(threads)])
    number = 0
    for thread, size in zip(plan.threads, sizes, strict=True):
        for index in range(size):
            follow = index > 0
            thread.messages.append(
                Message(
                    number,
                    thread,
                    index,
                    burst=follow and rng.random() < BURST_SHARE,
                    mention=not follow or rng.random() < MENTION_SHARE,
                )
            )
            number += 1
    return plan
