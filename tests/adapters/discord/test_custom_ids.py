"""Discord buttons' custom ids: only ids the database can hold match a button (bot.ids.ID_PATTERN)."""

from __future__ import annotations

import re

import pytest

from adapters.discord.cards import RateButton, StaffButton
from adapters.discord.client import ReplyButton

TOO_BIG = ["9" * 19, str(2**63), "9" * 5000]


@pytest.mark.parametrize(
    ("item", "prefix", "suffix"),
    [
        (ReplyButton, "supportbot:up:", ""),
        (ReplyButton, "supportbot:human:", ""),
        (StaffButton, "supportbot:claim:", ""),
        (RateButton, "supportbot:rate:", ":3"),
    ],
)
def test_a_button_id_matches_only_ids_that_fit_64_bits(
    item: type[ReplyButton | StaffButton | RateButton], prefix: str, suffix: str
) -> None:
    template: re.Pattern[str] = item.__discord_ui_compiled_template__
    assert template.fullmatch(f"{prefix}{'9' * 18}{suffix}") is not None
    assert template.fullmatch(f"{prefix}42{suffix}") is not None
    for odd in [*TOO_BIG, "²", "١٢", "", "-1"]:
        assert template.fullmatch(f"{prefix}{odd}{suffix}") is None, odd
