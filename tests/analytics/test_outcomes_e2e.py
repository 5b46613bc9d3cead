"""Every outcome rule through the real Slack adapter and the fake Slack: the buttons (👍, "That
solved it", 👎, "Talk to a human"), a failure, silence, and a handoff whose staff reply lands in the
transcript and in the bot's context after the resolve; then the report's figures of that database.

Real Bolt in HTTP mode, real SQLite, the fake OpenAI (tests/analytics/fake_model.py).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from adapters.slack.blocks import FEEDBACK_ACTION, HUMAN_ACTION, SOLVED_ACTION
from adapters.slack.cards import RESOLVE_ACTION
from bot.analytics.outcomes import Outcome
from bot.cli.report import Period, gather
from bot.events import ThreadKey
from bot.storage.store import Grounding, Role
from tests.adapters.slack.test_adapter import CHANNEL, USER, button_values, wait_answers
from tests.adapters.slack.test_handoff import (
    STAFF,
    STAFF_CHANNEL,
    card_of,
    ephemeral_texts,
    press,
    record_of,
    staff_toml,
)
from tests.analytics.fake_model import NOT_FOUND, support_model
from tests.conversation.test_grounding import KB_TOML, write_kb
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_server import TEAM, Message, mention, message
from tests.helpers import Bot, BotFactory, delivered_replies, until

SETTINGS = staff_toml() + KB_TOML + "[llm]\nmax_retries = 0\n[analytics]\nassume_resolved_hours = 0\n"


async def asked(bot: Bot, ts: str, text: str) -> Message:
    await bot.send.event(mention(text, channel=CHANNEL, ts=ts, user=USER))
    [answer] = await wait_answers(bot.slack, CHANNEL, ts, 1)
    return answer


async def pressed(bot: Bot, action: str, value: str, answer: Message, count: int) -> str:
    await bot.send.interaction(press(action, value, user=USER, on=answer))
    return (await ephemeral_texts(bot.slack, count))[-1]


async def test_each_outcome_rule_through_slack_and_the_report_of_it(
    start_bot: BotFactory, fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    write_kb(tmp_path)
    fake_openai.reply = support_model
    bot = await start_bot(SETTINGS, kb=True)
    bot.slack.users[STAFF] = "Sam"
    store = bot.app.store

    # Abandoned: the model fails, the user gets an apology (with the best passage) and leaves.
    fake_openai.fail_next("500")
    failed = await asked(bot, "3005.1", "can I get a refund on my annual plan please")
    assert "Sorry" in failed.text or "sorry" in failed.text
    # Confirmed by 👍; confirmed by "That solved it"; negative: 👎 (on an answer citing nothing).
    up = await asked(bot, "3001.1", "can I get a refund on my annual plan?")
    assert await pressed(bot, FEEDBACK_ACTION, button_values(up)["up"], up, 1) == "Thanks for the feedback!"
    solved = await asked(bot, "3002.1", "how do I export my boards")
    said = await pressed(bot, SOLVED_ACTION, button_values(solved)[SOLVED_ACTION], solved, 2)
    assert said == "Glad that solved it! Thanks for letting us know."
    down = await asked(bot, "3003.1", "refund annual plan uncited")
    await pressed(bot, FEEDBACK_ACTION, button_values(down)["down"], down, 3)
    # Assumed resolved: answered, and nothing more (assume_resolved_hours = 0).
    await asked(bot, "3004.1", "export boards to a csv file")

    # Escalated: nothing found, "Talk to a human"; staff answer in the user's thread, then resolve.
    merge = await asked(bot, "3006.1", "how do I merge two workspaces")
    assert merge.text.startswith(NOT_FOUND)
    await pressed(bot, HUMAN_ACTION, button_values(merge)[HUMAN_ACTION], merge, 4)
    key = ThreadKey("slack", TEAM, CHANNEL, "3006.1")
    record = await record_of(bot, key)
    staff_says = "Open Settings, then Workspaces, then Merge, and confirm by email."
    await bot.send.event(message(staff_says, channel=CHANNEL, ts="3006.5", user=STAFF, thread_ts="3006.1"))

    async def staff_turn() -> bool:
        conv = await store.find_conversation(key)
        return conv is not None and any(m.role is Role.STAFF for m in await store.messages(conv.id, 20))

    await until(staff_turn, "the staff reply stored with the staff role")
    card = await card_of(bot.slack)
    await bot.send.interaction(press(RESOLVE_ACTION, str(record.id), user=STAFF, on=card))
    await bot.send.event(
        mention("thanks, and after merging?", channel=CHANNEL, ts="3006.9", user=USER, thread_ts="3006.1")
    )
    await delivered_replies(bot.app, key, 3)  # the answer, the staff reply, the answer after it
    # After the resolve the model reads what was said during the handoff, staff labelled as staff.
    last = [r for r in fake_openai.requests if r.get("stream")][-1]["messages"]
    assert {"role": "assistant", "content": f"[Sam from our support team wrote:] {staff_says}"} in last
    assert not any(
        r.get("stream") and "Open Settings, then" in str(r["messages"][-1]) for r in fake_openai.requests[:-1]
    )

    period = Period(datetime.now(UTC).date(), datetime.now(UTC).date() + timedelta(days=1), None)
    report, judged = await gather(bot.app.config, period, datetime.now(UTC))
    by_thread = {j.activity.conversation.key.thread: j for j in judged}
    assert {t: j.outcome for t, j in by_thread.items()} == {
        "3005.1": Outcome.ABANDONED,
        "3001.1": Outcome.RESOLVED_CONFIRMED,
        "3002.1": Outcome.RESOLVED_CONFIRMED,
        "3003.1": Outcome.NEGATIVE,
        "3004.1": Outcome.RESOLVED_ASSUMED,
        "3006.1": Outcome.ESCALATED,
    }
    grounding = {
        t: [turn.grounding for turn in j.activity.turns if turn.role is not Role.USER]
        for t, j in by_thread.items()
    }
    assert grounding["3001.1"] == [Grounding.CITED]
    assert grounding["3003.1"] == [Grounding.CITED_NONE]
    assert grounding["3005.1"] == [Grounding.NO_MODEL]
    assert grounding["3006.1"][0] is Grounding.NOTHING_FOUND and Role.STAFF in [
        t.role for t in by_thread["3006.1"].activity.turns
    ]
    # Each answer's times, as the adapter saw them: the sign (the assistant status) and the text.
    timed = [t.timings for t in by_thread["3001.1"].activity.turns if t.timings is not None]
    assert len(timed) == 1 and None not in (timed[0].sign_s, timed[0].first_token_s, timed[0].complete_s)
    assert 0 <= (timed[0].first_token_s or 0) <= (timed[0].complete_s or 0) < 30

    data: Any = json.loads(json.dumps(report.to_json()))  # what --json prints
    assert (data["conversations"], data["resolved_confirmed"], data["resolved_assumed"]) == (6, 2, 1)
    assert (data["escalated"], data["negative"], data["abandoned"]) == (1, 1, 1)
    assert data["deflection_rate"] == 0.5  # 3 of 6 resolved without a person
    assert (data["feedback_up"], data["feedback_down"], data["solved_clicks"]) == (1, 1, 1)
    assert data["ttft_p50_s"] is not None and data["ttft_p95_s"] >= data["ttft_p50_s"]
    gaps = [(g["question"], g["count"], g["escalated"]) for g in data["coverage_gaps"]]
    assert gaps == [
        ("can I get a refund on my annual plan please", 2, 0),  # the failure and the uncited answer
        ("how do I merge two workspaces", 1, 1),  # found nothing, and went to a person
        ("thanks, and after merging?", 1, 0),
    ]
    assert data["coverage_gaps"][0]["nearest_page"]["title"] == "Refunds"


async def test_with_redact_all_a_relayed_staff_message_is_stored_without_personal_data(
    start_bot: BotFactory, fake_openai: FakeOpenAI
) -> None:
    bot = await start_bot(staff_toml() + '[privacy]\nredact = "all"\n')
    bot.slack.users[STAFF] = "Sam"
    dm = "D0ADA"
    await bot.send.event(message("refund please", channel=dm, ts="5001.1", user=USER))
    await wait_answers(bot.slack, dm, None, 1)
    await bot.send.command("/escalate", "", channel=dm, user=USER)
    record = await record_of(bot, ThreadKey("slack", TEAM, dm, dm))
    said = "write to sam.billing@example.com and we'll sort it"
    await bot.send.event(
        message(said, channel=STAFF_CHANNEL, ts="5002.1", user=STAFF, thread_ts=record.staff_thread)
    )
    # The user reads it as written (it is relayed); the transcript keeps it redacted.
    await bot.slack.wait_for(
        lambda: any("sam.billing@example.com" in m.text for m in bot.slack.thread(dm, None)), what="relay"
    )

    async def stored_staff() -> list[str] | None:
        texts = [
            m.text for m in await bot.app.store.messages(record.conversation_id, 20) if m.role is Role.STAFF
        ]
        return texts or None

    [kept] = await until(stored_staff, "the staff message stored")
    assert "sam.billing@example.com" not in kept and kept.startswith("write to ")
