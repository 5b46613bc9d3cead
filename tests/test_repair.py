"""bot/repair.py: what a lone surrogate becomes, and what is left alone."""

from __future__ import annotations

import dataclasses

import pytest

from bot.repair import repair, repaired
from tests.helpers import message


@pytest.mark.parametrize(
    ("text", "fixed"),
    [
        ("caf\ud800 price?", "caf\ufffd price?"),  # a lone high surrogate (a JSON escape)
        ("\udce9t\udce9", "\ufffdt\ufffd"),  # surrogate escapes of the Latin-1 byte 0xE9
        ("\udc00\ud800", "\ufffd\ufffd"),  # two lone halves in the wrong order: two characters
        ("a\ud83d\ude00b", "a😀b"),  # a well-formed pair is the character it encodes
        ("naïve 😀 — fine", "naïve 😀 — fine"),
    ],
)
def test_repair_replaces_each_lone_surrogate_and_keeps_the_rest(text: str, fixed: str) -> None:
    assert repair(text) == fixed
    repair(text).encode("utf-8")  # storable


def test_a_message_is_repaired_in_every_text_field_and_left_alone_when_fine() -> None:
    fine = message("hello")
    assert repaired(fine) == fine
    bad = dataclasses.replace(fine, text="x\ud800", user_name="\udc80", message_id="m\ud800")
    fixed = repaired(bad)
    assert (fixed.text, fixed.user_name, fixed.message_id) == ("x\ufffd", "\ufffd", "m\ufffd")
    assert fixed.key == fine.key and fixed.received_at == fine.received_at
