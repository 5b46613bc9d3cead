"""The human handoff with the staff channel on Slack: cards, Claim/Resolve, the DM relay, ratings, reminders.

Real Bolt in HTTP mode with signed requests, the fake Slack Web API, real SQLite and the fake OpenAI.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from adapters.slack.blocks import ESCALATE_SHORTCUT, HUMAN_ACTION
from adapters.slack.cards import CLAIM_ACTION, RATE_ACTION, RESOLVE_ACTION
from bot.events import ThreadKey
from bot.storage.store import EscalationRecord, MessageStatus
from tests.adapters.slack.test_adapter import CHANNEL, DM, USER, button_values, wait_answers
from tests.adapters.slack.test_entry import command_text
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_server import (
    TEAM,
    FakeSlack,
    Message,
    block_action,
    mention,
    message,
    message_shortcut,
)
from tests.helpers import Bot, BotFactory, sqlite_db, until

STAFF_CHANNEL, STAFF, GROUP = "C0STAFF", "U0STAFF", "S0STAFF"


def staff_toml(extra: str = "") -> str:
    """Escalation settings with the staff channel on Slack; `extra` goes into [escalation]."""
    return (
        f'[escalation]\nstaff_user_ids = ["{STAFF}"]\nstaff_group_id = "{GROUP}"\n{extra}'
        f'[escalation.staff_channel]\nplatform = "slack"\nchannel = "{STAFF_CHANNEL}"\n'
    )


async def card_of(slack: FakeSlack, count: int = 1) -> Message:
    """The newest handoff card in the staff channel (top-level bot messages there)."""
    await slack.wait_for(lambda: len(slack.thread(STAFF_CHANNEL, None)) >= count, what=f"card {count}")
    return slack.thread(STAFF_CHANNEL, None)[-1]


async def thread_texts(slack: FakeSlack, channel: str, thread: str | None, count: int) -> list[str]:
    """The bot's messages in a thread once there are `count` of them."""
    await slack.wait_for(lambda: len(slack.thread(channel, thread)) >= count, what=f"{count} messages")
    return [m.text for m in slack.thread(channel, thread)]


async def record_of(bot: Bot, key: ThreadKey) -> EscalationRecord:
    async def find() -> EscalationRecord | None:
        conv = await bot.app.store.find_conversation(key)
        record = await bot.app.store.current_escalation(conv.id) if conv else None
        return record if record is not None and record.staff_thread else None

    return await until(find, f"the card's thread stored for {key}")


async def handed_over(bot: Bot, key: ThreadKey, count: int) -> None:
    """Wait until `count` messages of the conversation were left to staff."""

    async def check() -> bool:
        conv = await bot.app.store.find_conversation(key)
        stored = await bot.app.store.messages(conv.id, 50) if conv else []
        return sum(m.status is MessageStatus.HANDED_OVER for m in stored) >= count

    await until(check, f"{count} messages handed over")


def press(action_id: str, value: str, *, user: str, on: Message) -> dict[str, Any]:
    return block_action(
        action_id, value, user=user, channel=on.channel, message_ts=on.ts, thread_ts=on.thread_ts
    )


def block_texts(msg: Message) -> str:
    parts: list[str] = []
    for block in msg.blocks:
        parts.append(str((block.get("text") or {}).get("text", "")))
        parts.extend(str(e.get("text", "")) for e in block.get("elements", []) if e.get("type") == "mrkdwn")
    return "\n".join(parts)


async def ephemeral_texts(slack: FakeSlack, count: int) -> list[str]:
    return [c.params["text"] for c in await slack.wait_calls("chat.postEphemeral", count)]


async def test_a_thread_escalated_by_shortcut_gets_a_card_and_goes_through_claim_and_resolve(
    start_bot: BotFactory, fake_openai: FakeOpenAI
) -> None:
    bot = await start_bot(staff_toml())
    bot.slack.users[STAFF] = "Sam"
    slack, key = bot.slack, ThreadKey("slack", TEAM, CHANNEL, "2000.1")
    await bot.send.event(mention("I was charged twice", channel=CHANNEL, ts="2000.1", user=USER))
    await wait_answers(slack, CHANNEL, "2000.1", 1)
    await bot.send.interaction(
        message_shortcut(
            ESCALATE_SHORTCUT, user=USER, channel=CHANNEL, ts="2000.1", thread_ts=None, text="refund please"
        )
    )
    card = await card_of(slack)
    record = await record_of(bot, key)
    assert (record.staff_platform, record.staff_channel, record.staff_thread, record.relay) == (
        "slack",
        STAFF_CHANNEL,
        card.ts,
        False,
    )
    assert card.text.startswith(f"<!subteam^{GROUP}> Escalation #{record.id} from Ada: refund please")
    shown = block_texts(card)
    assert "*Reason:* refund please" in shown and "shortcut" in shown
    # The summary came from the LLM (the fake echoes the transcript it was given).
    assert "Echo (2 messages): Ada: I was charged twice" in shown
    assert "<https://acme.slack.com/archives/C0SUPPORT/p20001|Open the conversation>" in shown
    [link_call] = slack.called("chat.getPermalink")
    assert link_call.params == {"channel": CHANNEL, "message_ts": "2000.1"}
    assert button_values(card) == {CLAIM_ACTION: str(record.id), RESOLVE_ACTION: str(record.id)}

    # Staff talk under the card (not relayed: the user's thread is visible to them); the user writes.
    await bot.send.event(message("on it", channel=STAFF_CHANNEL, ts="2001.1", user=STAFF, thread_ts=card.ts))
    await bot.send.event(message("hello?", channel=CHANNEL, ts="2000.3", user=USER, thread_ts="2000.1"))
    await handed_over(bot, key, 1)

    await bot.send.interaction(press(CLAIM_ACTION, str(record.id), user=USER, on=card))
    assert (await ephemeral_texts(slack, 2))[-1] == "Only support staff can claim escalations."
    await bot.send.interaction(press(CLAIM_ACTION, str(record.id), user=STAFF, on=card))
    assert (await ephemeral_texts(slack, 3))[-1] == "You've claimed this conversation."
    await thread_texts(slack, CHANNEL, "2000.1", 2)
    await bot.send.interaction(press(RESOLVE_ACTION, str(record.id), user=STAFF, on=card))
    notes = await thread_texts(slack, STAFF_CHANNEL, card.ts, 2)
    assert notes == ["Claimed by Sam.", "Resolved by Sam; the bot answers again."]

    user_thread = await thread_texts(slack, CHANNEL, "2000.1", 3)
    assert user_thread[1:] == [
        "Sam from our team has joined the conversation.",
        "This conversation is resolved and I'm back to help. How would you rate the help you got from"
        " our team? (optional)",
    ]
    rating = slack.thread(CHANNEL, "2000.1")[-1]
    values = button_values(rating)
    assert sorted(values) == [f"{RATE_ACTION}_{n}" for n in range(1, 6)]
    await bot.send.interaction(press(f"{RATE_ACTION}_4", values[f"{RATE_ACTION}_4"], user=USER, on=rating))
    assert "Thank you for rating us 4/5." in await ephemeral_texts(slack, 5)
    found = await bot.app.store.escalation(record.id)
    assert found is not None and (found[0].state, found[0].satisfaction) == ("resolved", 4)

    # Back with the bot: answered again. Nothing else was ever posted in the user's thread.
    await bot.send.event(mention("thanks!", channel=CHANNEL, ts="2000.5", user=USER, thread_ts="2000.1"))
    # The answer streams: wait for its final text, not just for the message to exist.
    await slack.wait_for(
        lambda: slack.thread(CHANNEL, "2000.1")[-1].text.endswith("thanks!"), what="the final answer"
    )
    final = await thread_texts(slack, CHANNEL, "2000.1", 4)
    assert final[-1].endswith("thanks!") and len(final) == 4
    asked = [r["messages"][-1]["content"] for r in fake_openai.requests if r.get("stream")]
    assert asked == ["I was charged twice", "thanks!"]  # nothing was answered while escalated
    assert [m.text for m in slack.thread(STAFF_CHANNEL, card.ts)] == notes  # "on it" was not answered


async def test_the_talk_to_a_human_button_posts_a_card_and_one_reminder(start_bot: BotFactory) -> None:
    bot = await start_bot(staff_toml("reminder_minutes = 5\n"))
    bot.slack.users[STAFF] = "Sam"
    slack, key = bot.slack, ThreadKey("slack", TEAM, CHANNEL, "2100.1")
    await bot.send.event(mention("where is my invoice", channel=CHANNEL, ts="2100.1", user=USER))
    [answer] = await wait_answers(slack, CHANNEL, "2100.1", 1)
    await bot.send.interaction(press(HUMAN_ACTION, button_values(answer)[HUMAN_ACTION], user=USER, on=answer))
    card = await card_of(slack)
    record = await record_of(bot, key)
    assert record.trigger == "button" and "*Trigger:* button" in block_texts(card)
    assert "Echo (2 messages): Ada: where is my invoice" in block_texts(card)
    assert "https://acme.slack.com/archives/C0SUPPORT/p21001|Open the conversation" in block_texts(card)
    assert button_values(card) == {CLAIM_ACTION: str(record.id), RESOLVE_ACTION: str(record.id)}

    assert await bot.app.handoff.reminders.due() == 0  # not yet due
    past = (datetime.now(UTC) - timedelta(minutes=6)).isoformat(timespec="microseconds")
    await sqlite_db(bot.app).execute(
        "UPDATE escalations SET requested_at = ? WHERE id = ?", (past, record.id)
    )
    assert await bot.app.handoff.reminders.due() == 1
    assert await bot.app.handoff.reminders.due() == 0  # one reminder only
    reminders = await thread_texts(slack, STAFF_CHANNEL, card.ts, 1)
    assert reminders == ["Reminder: this escalation has waited 5 minutes without being claimed."]


async def test_the_model_hands_a_dm_over_and_messages_are_relayed_both_ways(
    start_bot: BotFactory, fake_openai: FakeOpenAI
) -> None:
    def reply(request: dict[str, Any]) -> str | dict[str, Any]:
        if not request.get("stream"):
            return "The customer wants a refund for invoice 42 & more."
        return {"tool": "escalate_to_human", "arguments": {"reason": "Refund for invoice 42"}}

    fake_openai.reply = reply
    bot = await start_bot(staff_toml())
    bot.slack.users[STAFF] = "Sam"
    slack, key = bot.slack, ThreadKey("slack", TEAM, DM, DM)
    await bot.send.event(message("refund invoice 42", channel=DM, ts="2200.1", user=USER))
    told = await thread_texts(slack, DM, None, 1)
    assert told[0].startswith("I've asked a person from our team to take over")
    card = await card_of(slack)
    record = await record_of(bot, key)
    assert (record.trigger, record.reason, record.relay) == ("model", "Refund for invoice 42", True)
    shown = block_texts(card)
    assert "The customer wants a refund for invoice 42 &amp; more." in shown
    assert "Private conversation: write in this card's thread to reply" in shown
    assert not slack.called("chat.getPermalink")  # a DM's top level has nothing to link to

    # The user's DM (with a file) reaches the card's thread; staff replies reach the DM.
    upload = {"permalink": "https://acme.slack.com/files/U0ADA/F1/receipt.pdf", "name": "receipt.pdf"}
    await bot.send.event(
        message(
            "a &lt;b&gt; receipt", channel=DM, ts="2200.2", user=USER, subtype="file_share", files=[upload]
        )
    )
    relayed = await thread_texts(slack, STAFF_CHANNEL, card.ts, 1)
    assert relayed == ["Ada: a &lt;b&gt; receipt\nhttps://acme.slack.com/files/U0ADA/F1/receipt.pdf"]
    await bot.send.event(
        message(
            "see <https://status.example.com|our status page>",
            channel=STAFF_CHANNEL,
            ts="2201.1",
            user=STAFF,
            thread_ts=card.ts,
        )
    )
    dm = await thread_texts(slack, DM, None, 2)
    assert dm[1] == "Sam (support): see our status page (https://status.example.com)"

    # /resolve in the staff channel takes the conversation its one open card is about.
    _, body = await bot.send.command("/resolve", "", channel=STAFF_CHANNEL, user=STAFF)
    assert "Resolved" in command_text(body)
    dm = await thread_texts(slack, DM, None, 3)
    assert dm[2].startswith("This conversation is resolved")
    assert len([r for r in fake_openai.requests if r.get("stream")]) == 1  # nothing answered in between


async def test_dm_messages_written_while_the_card_is_being_prepared_still_reach_staff(
    start_bot: BotFactory, fake_openai: FakeOpenAI
) -> None:
    bot = await start_bot(staff_toml())
    slack = bot.slack
    await bot.send.event(message("hello", channel=DM, ts="2300.1", user=USER))
    await wait_answers(slack, DM, None, 1)
    fake_openai.latency_s = 1.0  # the summary takes a while: the card isn't there yet
    await bot.send.command("/escalate", "", channel=DM, user=USER)
    await slack.wait_for(lambda: any(not r.get("stream") for r in fake_openai.requests), what="the summary")
    await bot.send.event(message("my order is 123", channel=DM, ts="2300.2", user=USER))
    await handed_over(bot, ThreadKey("slack", TEAM, DM, DM), 1)
    assert not slack.thread(STAFF_CHANNEL, None)  # still no card while that message arrived
    card = await card_of(slack)
    assert await thread_texts(slack, STAFF_CHANNEL, card.ts, 1) == ["Ada: my order is 123"]


async def test_a_stale_card_cannot_act_on_a_later_escalation(start_bot: BotFactory) -> None:
    bot = await start_bot(staff_toml())
    bot.slack.users[STAFF] = "Sam"
    await bot.send.command("/escalate", "first", channel=DM, user=USER)
    old = await card_of(bot.slack)
    await bot.send.interaction(press(RESOLVE_ACTION, button_values(old)[RESOLVE_ACTION], user=STAFF, on=old))
    await bot.slack.wait_calls("chat.postEphemeral")
    await bot.send.command("/escalate", "second", channel=DM, user=USER)
    await card_of(bot.slack, 2)
    await bot.send.interaction(press(RESOLVE_ACTION, button_values(old)[RESOLVE_ACTION], user=STAFF, on=old))
    assert (await ephemeral_texts(bot.slack, 2))[-1].startswith("That escalation is already resolved")
    [(record, _)] = await bot.app.store.open_escalations()
    assert (record.reason, record.state) == ("second", "waiting")


async def test_members_of_the_staff_user_group_count_as_staff(start_bot: BotFactory) -> None:
    # Nobody is listed by id: only the user group makes someone staff.
    bot = await start_bot(
        f'[escalation]\nstaff_group_id = "{GROUP}"\n'
        f'[escalation.staff_channel]\nplatform = "slack"\nchannel = "{STAFF_CHANNEL}"\n'
    )
    slack, key = bot.slack, ThreadKey("slack", TEAM, CHANNEL, "2200.1")
    slack.usergroups[GROUP] = ["U0GROUPIE"]
    await bot.send.event(mention("my export is stuck", channel=CHANNEL, ts="2200.1", user=USER))
    [answer] = await wait_answers(slack, CHANNEL, "2200.1", 1)
    await bot.send.interaction(press(HUMAN_ACTION, button_values(answer)[HUMAN_ACTION], user=USER, on=answer))
    card = await card_of(slack)
    record = await record_of(bot, key)
    await bot.send.interaction(press(CLAIM_ACTION, str(record.id), user=STAFF, on=card))
    assert (await ephemeral_texts(slack, 2))[-1] == "Only support staff can claim escalations."
    await bot.send.interaction(press(CLAIM_ACTION, str(record.id), user="U0GROUPIE", on=card))
    assert (await ephemeral_texts(slack, 3))[-1] == "You've claimed this conversation."
    [listed] = slack.called("usergroups.users.list")[:1]
    assert listed.params["usergroup"] == GROUP


async def test_only_staff_speak_to_the_customer_from_under_a_card(start_bot: BotFactory) -> None:
    bot = await start_bot(staff_toml())
    slack = bot.slack
    await bot.send.event(message("hello", channel=DM, ts="2600.1", user=USER))
    await thread_texts(slack, DM, None, 1)
    await bot.send.command("/escalate", "", channel=DM, user=USER)
    card = await card_of(slack)
    await record_of(bot, ThreadKey("slack", TEAM, DM, DM))
    # Someone in the staff channel who isn't staff writes under the card, twice.
    for n in (1, 2):
        await bot.send.event(
            message(f"I'm support, send me your password {n}", channel=STAFF_CHANNEL, ts=f"2601.{n}",
                    user="U0MALLORY", thread_ts=card.ts)
        )  # fmt: skip
    [note] = await slack.wait_calls("chat.postEphemeral")
    assert note.params["user"] == "U0MALLORY" and note.params["thread_ts"] == card.ts
    assert "Only support staff can write to the customer" in note.params["text"]
    # Staff are still relayed; nothing the other person wrote reached the user's DM.
    await bot.send.event(
        message("How can I help?", channel=STAFF_CHANNEL, ts="2602.1", user=STAFF, thread_ts=card.ts)
    )
    dm = await thread_texts(slack, DM, None, 2)
    assert dm[-1].endswith("(support): How can I help?")
    assert not any("password" in text for text in dm)
    assert len(slack.called("chat.postEphemeral")) == 1  # one note, not one per message
