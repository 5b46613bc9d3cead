"""The soak's counting, on a journal written by hand: each kind of failure is counted where it is."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.soak.plan import Message, Plan, Thread
from bench.soak.record import Record
from bench.soak.tally import report, tally
from tests.fakes.serve import Journal


def plan_of(*sizes: int) -> Plan:
    """Threads with these many messages, all sent one second apart, in DMs D0..Dn."""
    plan, number = Plan([]), 0
    for t, size in enumerate(sizes):
        thread = Thread(t, dm=True, place=f"D{t}/")
        for index in range(size):
            thread.messages.append(
                Message(number, thread, index, burst=False, mention=True, sent_at=100.0 + number)
            )
            number += 1
        thread.next_index = size
        plan.threads.append(thread)
    return plan


def line(
    at: float, ts: str, channel: str, text: str, *, buttons: bool = True, op: str = "post"
) -> dict[str, Any]:
    return {
        "at": at,
        "kind": "message",
        "op": op,
        "channel": channel,
        "ts": ts,
        "thread_ts": None,
        "text": text,
        "buttons": buttons,
        "open": False,
    }


def counted(tmp_path: Path, plan: Plan, lines: list[dict[str, Any]]) -> Any:
    path = tmp_path / "slack.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    record = Record(Journal(path))
    record.update()
    return tally("slack", plan, record, began=100.0)


def test_every_message_answered_once_in_its_thread_is_clean(tmp_path: Path) -> None:
    plan = plan_of(2, 1)
    figures = counted(
        tmp_path,
        plan,
        [
            line(100.5, "1.1", "D0", "Echo (2 messages): Question q000000"),
            line(102.5, "1.2", "D0", "Echo (4 messages): Question q000001"),
            line(103.0, "1.3", "D1", "Echo (2 messages): Question q000002"),
        ],
    )
    assert (figures.unique, figures.answered_once, figures.lost, figures.duplicates) == (3, 3, 0, 0)
    assert figures.clean and sorted(figures.latencies) == [0.5, 1.0, 1.5]


def test_a_message_with_no_answer_is_lost_and_a_second_answer_is_a_duplicate(tmp_path: Path) -> None:
    plan = plan_of(2, 1)
    figures = counted(
        tmp_path,
        plan,
        [
            line(100.5, "1.1", "D0", "Echo (2 messages): Question q000000"),
            line(100.7, "1.2", "D0", "Echo (2 messages): Question q000000"),  # q000001 never answered
            line(103.0, "1.3", "D1", "Echo (2 messages): Question q000002"),
        ],
    )
    assert (figures.answered_once, figures.lost, figures.duplicates) == (1, 1, 1)
    assert not figures.clean


def test_an_apology_counts_for_the_latest_message_without_an_answer(tmp_path: Path) -> None:
    plan = plan_of(3)
    figures = counted(
        tmp_path,
        plan,
        [
            line(100.5, "1.1", "D0", "Echo (2 messages): Question q000000"),
            line(102.5, "1.2", "D0", "Sorry, my language model is having trouble right now."),
        ],
    )
    assert (figures.fallbacks, figures.answered_once, figures.lost, figures.duplicates) == (1, 2, 1, 0)
    assert figures.examples[0].startswith("lost q000001")  # the apology came after q000002 was sent


def test_an_apology_beyond_the_messages_of_its_thread_is_a_duplicate(tmp_path: Path) -> None:
    plan = plan_of(2)
    apology = "Sorry, my language model is having trouble right now."
    figures = counted(
        tmp_path,
        plan,
        [
            line(100.5, "1.1", "D0", "Echo (2 messages): Question q000000"),
            line(101.5, "1.2", "D0", apology),
            line(101.9, "1.3", "D0", apology),
        ],
    )
    assert (figures.fallbacks, figures.answered_once, figures.lost, figures.duplicates) == (2, 1, 0, 1)


def test_an_answer_in_another_thread_and_a_half_written_one_are_counted(tmp_path: Path) -> None:
    plan = plan_of(1, 1)
    figures = counted(
        tmp_path,
        plan,
        [
            line(100.5, "1.1", "D1", "Echo (2 messages): Question q000000"),  # q000000 was asked in D0
            line(101.5, "1.2", "D1", "Echo (2 messages):", buttons=False),
            line(101.6, "1.2", "D1", "Echo (2 messages): Question q000001", buttons=False, op="update"),
            line(101.7, "1.4", "D1", "Echo (2 messages):", buttons=False),
            line(101.8, "1.4", "D1", "", buttons=False, op="delete"),  # deleted: not left visible
        ],
    )
    assert (figures.wrong_thread, figures.fragments, figures.lost) == (1, 1, 2)


def test_a_loss_in_a_dm_no_connected_bot_heard_of_is_told_apart(tmp_path: Path) -> None:
    """Discord shows a bot no DM until a message in it arrives while the bot is connected."""
    plan = plan_of(1, 2, 1)
    unheard, heard_later, _answered = plan.threads
    unheard.messages[0].unseen = heard_later.messages[0].unseen = True
    figures = counted(tmp_path, plan, [line(104.0, "1.1", "D2", "Echo (2 messages): Question q000003")])
    assert (figures.lost, figures.unheard, figures.answered_once) == (3, 1, 1)
    assert "lost 3 (1 in DMs no connected bot heard of)" in report(figures)
