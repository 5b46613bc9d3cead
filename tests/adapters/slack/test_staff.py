"""The Slack staff group: a button asks Slack for the group when its list is old; a message, which is
stored before Slack is acked, never waits for that call once the group has been read."""

from __future__ import annotations

import asyncio

import pytest

from adapters.slack.api import make_client
from adapters.slack.staff import StaffGroup
from bot.settings import load_config
from tests.fakes.slack_server import FakeSlack

GROUP = "S0STAFF"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def group_for(fake: FakeSlack, monkeypatch: pytest.MonkeyPatch, clock: Clock) -> StaffGroup:
    monkeypatch.setenv("SLACK_BOT_TOKEN", fake.token)
    monkeypatch.setenv("SLACK_API_URL", fake.api_url)
    return StaffGroup(make_client(load_config()), GROUP, ttl_s=60.0, clock=clock)


async def test_a_message_uses_the_last_list_while_a_new_one_is_read(
    fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    group = group_for(fake_slack, monkeypatch, clock)
    fake_slack.usergroups[GROUP] = ["U0OLD"]
    assert await group.roles_now("U0OLD") == (GROUP,)  # nothing read yet: this one asks Slack
    assert len(fake_slack.called("usergroups.users.list")) == 1
    fake_slack.usergroups[GROUP] = ["U0NEW"]
    clock.now = 61.0  # the list is old now
    # Answered from the old list at once, the new one read meanwhile (once, however many ask).
    assert await group.roles_now("U0NEW") == ()
    assert await group.roles_now("U0OLD") == (GROUP,)
    await fake_slack.wait_for(lambda: len(fake_slack.called("usergroups.users.list")) == 2, what="re-read")
    await asyncio.sleep(0.05)  # the background read stores what it got
    assert await group.roles_now("U0NEW") == (GROUP,)
    assert len(fake_slack.called("usergroups.users.list")) == 2
    await group.close()


async def test_a_button_waits_for_a_fresh_list(
    fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    group = group_for(fake_slack, monkeypatch, clock)
    fake_slack.usergroups[GROUP] = ["U0OLD"]
    assert await group.roles_of("U0OLD") == (GROUP,)
    fake_slack.usergroups[GROUP] = ["U0NEW"]
    clock.now = 61.0
    assert await group.roles_of("U0NEW") == (GROUP,)
    await group.close()
