"""The handoff state machine through the real manager and SQLite: who may act, and the bot's silence."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from bot.app import running_app
from bot.events import ReplyStatus, ThreadKey
from bot.handoff.escalation import EscalationError
from bot.handoff.hours import in_business_hours
from bot.handoff.states import Trigger
from bot.settings import BusinessHours
from bot.storage.store import MessageStatus
from tests.conftest import ConfigFactory
from tests.fakes.openai_server import FakeOpenAI
from tests.helpers import ask, message, sqlite_db, staff_channel_toml

STAFF = '[escalation]\nstaff_user_ids = ["U_STAFF"]\nkeywords = ["talk to a human"]\n' + staff_channel_toml()


async def test_escalate_claim_resolve_and_the_bot_is_silent_in_between(
    make_config: ConfigFactory, fake_openai: FakeOpenAI
) -> None:
    async with running_app(make_config(STAFF)) as app:
        key = message("x").key
        await ask(app.manager, message("hello"))
        outcome = await app.escalations.escalate(key, user_id="u1", reason="billing", trigger=Trigger.BUTTON)
        assert outcome.record.state == "waiting" and "person" in outcome.message
        with pytest.raises(EscalationError, match="already"):
            await app.escalations.escalate(key, user_id="u1", reason="again", trigger=Trigger.COMMAND)

        events, done = await ask(app.manager, message("are you there?"))
        assert events == [] and done is None  # no bot answer while escalated
        assert len(fake_openai.requests) == 1

        with pytest.raises(EscalationError, match="Only support staff"):
            await app.escalations.resolve(key, staff_id="u1")
        claimed = await app.escalations.claim(key, staff_id="U_STAFF")
        assert claimed.record.state == "human" and claimed.record.claimed_by == "U_STAFF"
        with pytest.raises(EscalationError, match="no unclaimed"):
            await app.escalations.claim(key, staff_id="U_STAFF")
        resolved = await app.escalations.resolve(key, staff_id="U_STAFF")
        assert resolved.record.resolved_at is not None
        with pytest.raises(EscalationError, match="isn't escalated"):
            await app.escalations.resolve(key, staff_id="U_STAFF")

        _, done = await ask(app.manager, message("back to the bot"))
        assert done is not None and done.status is ReplyStatus.ANSWERED
        conv = await app.store.find_conversation(key)
        assert conv is not None and conv.state == "bot"
        statuses = [m.status for m in await app.store.messages(conv.id, 20) if m.role == "user"]
        assert statuses == [MessageStatus.ANSWERED, MessageStatus.HANDED_OVER, MessageStatus.ANSWERED]


async def test_a_keyword_escalates_without_calling_the_llm(
    make_config: ConfigFactory, fake_openai: FakeOpenAI
) -> None:
    async with running_app(make_config(STAFF)) as app:
        _, done = await ask(app.manager, message("Please let me TALK TO A HUMAN now"))
        assert done is not None and done.status is ReplyStatus.ESCALATED
        assert fake_openai.requests == []
        open_ = await app.store.open_escalations()
        assert [(e.trigger, k.thread) for e, k in open_] == [("keyword", "t1")]


async def test_escalation_state_survives_a_restart(
    make_config: ConfigFactory, fake_openai: FakeOpenAI
) -> None:
    config = make_config(STAFF)
    async with running_app(config) as app:
        await app.escalations.escalate(message("x").key, user_id="u1", reason="", trigger=Trigger.COMMAND)
    async with running_app(config) as app:
        events, _ = await ask(app.manager, message("still there?"))
        assert events == []
        assert len(await app.store.open_escalations()) == 1


async def test_latest_conversation_of_a_user_and_feedback(
    make_config: ConfigFactory, fake_openai: FakeOpenAI
) -> None:
    async with running_app(make_config()) as app:
        await ask(app.manager, message("in one", thread="one"))
        _, done = await ask(app.manager, message("in two", thread="two"))
        conv = await app.store.latest_conversation_of_user("console", "", "console", "u1")
        assert conv is not None and conv.key.thread == "two"
        assert done is not None and done.reply_id is not None
        of_reply = await app.store.conversation_of_message(done.reply_id)
        assert of_reply is not None and of_reply.id == conv.id
        await app.store.record_feedback(done.reply_id, "u1", 1)
        await app.store.record_feedback(done.reply_id, "u1", -1)  # a change of mind replaces the vote
        rows = list(await sqlite_db(app).execute_fetchall("SELECT message_id, user_id, value FROM feedback"))
        assert [tuple(r) for r in rows] == [(done.reply_id, "u1", -1)]


async def test_the_model_can_hand_over_through_its_tool(
    make_config: ConfigFactory, fake_openai: FakeOpenAI
) -> None:
    fake_openai.reply = lambda request: {
        "tool": "escalate_to_human",
        "arguments": {"reason": "Wants a refund for invoice 42"},
        "text": "I can't issue refunds myself.",
    }
    async with running_app(make_config(STAFF)) as app:
        # On Slack (the console, with no staff channel running, says nobody receives it).
        in_slack = replace(message("refund my invoice 42 please"), key=ThreadKey("slack", "T1", "D1", "t1"))
        _, done = await ask(app.manager, in_slack)
        assert done is not None and done.status is ReplyStatus.ESCALATED
        assert done.text.startswith("I can't issue refunds myself.\n\nI've asked a person")
        tools = fake_openai.requests[0]["tools"]
        assert [t["function"]["name"] for t in tools] == ["escalate_to_human"]
        [(record, key)] = await app.store.open_escalations()
        assert (record.trigger, record.reason, key.thread) == ("model", "Wants a refund for invoice 42", "t1")
        events, _ = await ask(app.manager, replace(message("hello?"), key=in_slack.key))
        assert events == [] and len(fake_openai.requests) == 1


async def test_the_tool_can_be_switched_off(make_config: ConfigFactory, fake_openai: FakeOpenAI) -> None:
    async with running_app(make_config("[llm]\nescalation_tool = false\n")) as app:
        await ask(app.manager, message("hi"))
    assert "tools" not in fake_openai.requests[0]


def test_business_hours_follow_the_configured_zone_and_days() -> None:
    hours = BusinessHours(timezone="Europe/Berlin", start="09:00", end="17:00")
    friday = datetime(2026, 11, 27, tzinfo=UTC)
    assert in_business_hours(hours, friday.replace(hour=8, minute=30))  # 09:30 in Berlin
    assert not in_business_hours(hours, friday.replace(hour=16, minute=30))  # 17:30 in Berlin
    assert not in_business_hours(hours, friday.replace(day=28, hour=10))  # Saturday
    with pytest.raises(ValueError, match="unknown time zone"):
        BusinessHours(timezone="Mars/Olympus")


async def test_out_of_hours_the_user_is_told_when_to_expect_a_reply(
    make_config: ConfigFactory, fake_openai: FakeOpenAI
) -> None:
    never_open = '[escalation.hours]\ndays = []\nout_of_hours_response = "by Monday 10:00"\n'
    async with running_app(make_config(never_open + staff_channel_toml())) as app:
        outcome = await app.escalations.escalate(
            ThreadKey("slack", "T1", "D1", "D1"), user_id="u1", reason="", trigger=Trigger.COMMAND
        )
    assert outcome.message.startswith("Our team is away right now (hours:")
    assert "someone will reply here by Monday 10:00" in outcome.message
