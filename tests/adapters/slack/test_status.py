"""The Slack sign of life: an assistant status ("is thinking…") lapses after two minutes without a
message, so it is renewed until the answer's first text shows, and no longer. Through the real
slack_sdk client against the fake Slack."""

from __future__ import annotations

import asyncio

import pytest

from adapters.slack.api import make_client
from adapters.slack.payloads import Origin
from adapters.slack.reply import THINKING, ReplyWriter, Sign
from bot.settings import SlackSettings, load_config
from tests.fakes.slack_server import FakeSlack

WHERE = Origin(team="T1", channel="C1", ts="100.1", thread_ts="100.1", user="U0ADA", is_dm=False)
RENEW_S = 0.05


def writer_for(fake: FakeSlack, monkeypatch: pytest.MonkeyPatch) -> ReplyWriter:
    monkeypatch.setenv("SLACK_BOT_TOKEN", fake.token)
    monkeypatch.setenv("SLACK_API_URL", fake.api_url)
    return ReplyWriter(make_client(load_config()), SlackSettings(stream="edits"), status_renew_s=RENEW_S)


def thinking(fake: FakeSlack) -> int:
    return sum(1 for c in fake.called("assistant.threads.setStatus") if c.params["status"] == THINKING)


async def test_the_status_is_renewed_until_the_first_text_shows(
    fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = writer_for(fake_slack, monkeypatch)
    writing = writer.begin(WHERE)
    assert await writer.sign(WHERE) is Sign.STATUS
    await fake_slack.wait_for(lambda: thinking(fake_slack) >= 4, what="the status renewed")
    await writing.add("The first words")
    renewed = thinking(fake_slack)
    await asyncio.sleep(RENEW_S * 6)
    assert thinking(fake_slack) == renewed  # the text cleared it; setting it again would bring it back
    await writer.unsign(WHERE, Sign.STATUS, replied=True)
    assert fake_slack.thread("C1", "100.1")[0].text.startswith("The first words")


async def test_an_answer_that_ends_without_text_stops_renewing(
    fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = writer_for(fake_slack, monkeypatch)
    writing = writer.begin(WHERE)  # the adapter holds it while the answer runs
    assert await writer.sign(WHERE) is Sign.STATUS
    await fake_slack.wait_for(lambda: thinking(fake_slack) >= 2, what="the status renewed")
    await writer.unsign(WHERE, Sign.STATUS, replied=False)
    renewed = thinking(fake_slack)
    await asyncio.sleep(RENEW_S * 6)
    assert thinking(fake_slack) == renewed
    assert fake_slack.called("assistant.threads.setStatus")[-1].params["status"] == ""
    assert not writing.shown


async def test_text_shown_before_the_status_was_set_is_never_followed_by_a_renewal(
    fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = writer_for(fake_slack, monkeypatch)
    writing = writer.begin(WHERE)
    await writing.add("Fast answer")
    assert await writer.sign(WHERE) is Sign.STATUS
    await asyncio.sleep(RENEW_S * 6)
    assert thinking(fake_slack) == 1
