"""What the `ConversationStore` protocol promises, checked once against every backend (see conftest.py)."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.events import IncomingMessage, ThreadKey, Usage
from bot.handoff.states import Trigger
from bot.storage.store import (
    NO_SPEND,
    TOO_FAST,
    ConversationState,
    ConversationStore,
    EscalationRecord,
    MessageStatus,
    ModelStats,
    Role,
    SpendHold,
    SpendLedger,
    Spent,
    StoredMessage,
)
from tests.storage.conftest import Backend

_ids = itertools.count(1)
KEY = ThreadKey("slack", "T1", "C1", "100.1")
OTHER_THREAD = ThreadKey("slack", "T1", "C1", "200.2")


def incoming(
    key: ThreadKey = KEY, text: str = "hello", *, message_id: str | None = None, user: str = "U1"
) -> IncomingMessage:
    return IncomingMessage(
        key=key,
        message_id=message_id or f"m{next(_ids)}",
        user_id=user,
        user_name=f"name of {user}",
        text=text,
        is_dm=False,
        received_at=datetime.now(UTC),
    )


async def inbound(
    store: ConversationStore, key: ThreadKey = KEY, text: str = "hi", **kw: str
) -> StoredMessage:
    stored = await store.record_inbound(incoming(key, text, **kw), tokens=3)
    assert stored is not None
    return stored


async def answer(
    store: ConversationStore, msg: StoredMessage, text: str = "answer", usage: Usage | None = None
) -> int:
    return await store.record_reply(msg, Role.ASSISTANT, text, 5, usage, settles=MessageStatus.ANSWERED)


async def state_of(store: ConversationStore, key: ThreadKey) -> str:
    conv = await store.find_conversation(key)
    assert conv is not None
    return conv.state


async def current(store: ConversationStore, conversation_id: int) -> EscalationRecord:
    found = await store.current_escalation(conversation_id)
    assert found is not None
    return found


# ------------------------------------------------------------------ inbound messages


async def test_record_inbound_stores_the_message_in_its_conversation(store: ConversationStore) -> None:
    msg = incoming(text="where is my order?", message_id="ev1")
    stored = await store.record_inbound(msg, tokens=7)
    assert stored is not None
    assert (stored.role, stored.status, stored.text, stored.tokens) == (
        Role.USER, MessageStatus.RECEIVED, "where is my order?", 7,
    )  # fmt: skip
    assert (stored.user_id, stored.user_name, stored.platform_message_id) == ("U1", "name of U1", "ev1")
    assert not stored.handed_over
    conv = await store.find_conversation(KEY)
    assert conv is not None and conv.id == stored.conversation_id and conv.key == KEY
    assert conv.state == ConversationState.BOT
    (listed,) = await store.messages(conv.id, 10)
    assert (listed.id, listed.user_id, listed.user_name, listed.text) == (
        stored.id,
        "U1",
        "name of U1",
        stored.text,
    )


async def test_record_inbound_drops_a_second_delivery_of_the_same_platform_message(
    store: ConversationStore,
) -> None:
    first = await store.record_inbound(incoming(message_id="ev1"), tokens=1)
    assert first is not None
    assert await store.record_inbound(incoming(message_id="ev1", text="retried"), tokens=1) is None
    assert await store.record_inbound(incoming(OTHER_THREAD, message_id="ev1"), tokens=1) is None
    assert [m.text for m in await store.messages(first.conversation_id, 10)] == ["hello"]


async def test_the_same_message_id_on_another_platform_is_a_different_message(
    store: ConversationStore,
) -> None:
    assert await store.record_inbound(incoming(message_id="42"), tokens=1) is not None
    other = await store.record_inbound(incoming(ThreadKey("discord", "G1", "C1", "C1"), message_id="42"), 1)
    assert other is not None and other.platform_message_id == "42"


async def test_a_message_stored_while_staff_have_the_conversation_is_marked_handed_over(
    store: ConversationStore,
) -> None:
    first = await inbound(store)
    await store.open_escalation(first.conversation_id, reason="", trigger=Trigger.COMMAND, requested_by="U1")
    assert (await inbound(store)).handed_over
    await store.claim_escalation(first.conversation_id, "S1")
    assert (await inbound(store)).handed_over
    await store.resolve_escalation(first.conversation_id, "S1")
    assert not (await inbound(store)).handed_over


# ------------------------------------------------------------------ replies and history


async def test_record_reply_stores_a_pending_reply_and_settles_the_inbound_status(
    store: ConversationStore,
) -> None:
    msg = await inbound(store, text="question")
    reply_id = await store.record_reply(
        msg, Role.NOTICE, "sorry", 2, None, settles=MessageStatus.FAILED, error="timeout"
    )
    question, reply = await store.messages(msg.conversation_id, 10)
    assert (question.id, question.status, question.error) == (msg.id, MessageStatus.FAILED, "timeout")
    assert (reply.id, reply.role, reply.text, reply.status) == (
        reply_id,
        Role.NOTICE,
        "sorry",
        MessageStatus.PENDING,
    )
    conv = await store.conversation_of_message(reply_id)
    assert conv is not None and conv.id == msg.conversation_id


async def test_mark_delivered_records_the_platform_id(store: ConversationStore) -> None:
    msg = await inbound(store)
    reply_id = await answer(store, msg)
    await store.mark_delivered(reply_id, "1700000000.000100")
    reply = (await store.messages(msg.conversation_id, 10))[-1]
    assert (reply.status, reply.platform_message_id) == (MessageStatus.DELIVERED, "1700000000.000100")


async def test_pending_replies_counts_replies_the_platform_has_not_accepted(store: ConversationStore) -> None:
    first, second = await inbound(store), await inbound(store, OTHER_THREAD)
    assert await store.pending_replies() == 0
    replies = [await answer(store, first), await answer(store, second)]
    assert await store.pending_replies() == 2  # the questions themselves are not counted
    await store.mark_delivered(replies[0], "1.1")
    await store.set_status(replies[1], MessageStatus.FAILED, "channel_not_found")
    assert await store.pending_replies() == 0


async def test_ping_answers_while_open_and_raises_once_closed(store: ConversationStore) -> None:
    await store.ping()
    await store.close()
    with pytest.raises(Exception):  # noqa: B017 - each backend raises its own kind
        await store.ping()


async def test_probe_write_leaves_nothing_behind(store: ConversationStore) -> None:
    await inbound(store)
    before = await store.stats()
    await store.probe_write()
    await store.probe_write()  # again: nothing of the first one is left to collide with
    assert await store.stats() == before


async def test_set_status_changes_status_and_error(store: ConversationStore) -> None:
    msg = await inbound(store)
    await store.set_status(msg.id, MessageStatus.FAILED, "boom")
    (stored,) = await store.messages(msg.conversation_id, 10)
    assert (stored.status, stored.error) == (MessageStatus.FAILED, "boom")


async def test_messages_are_the_latest_ones_oldest_first(store: ConversationStore) -> None:
    sent = [await inbound(store, text=f"m{i}") for i in range(5)]
    assert [m.text for m in await store.messages(sent[0].conversation_id, 3)] == ["m2", "m3", "m4"]


async def test_history_is_the_dialogue_before_a_message_newest_first(store: ConversationStore) -> None:
    turns: list[str] = []
    for i in range(3):
        msg = await inbound(store, text=f"q{i}")
        await answer(store, msg, f"a{i}")
        turns += [f"q{i}", f"a{i}"]
    current = await inbound(store, text="q3")
    history = await store.history(current.conversation_id, current.id, 10)
    assert [m.text for m in history] == turns[::-1]
    assert [m.text for m in await store.history(current.conversation_id, current.id, 3)] == ["a2", "q2", "a1"]


async def test_history_stops_before_the_given_message(store: ConversationStore) -> None:
    q0 = await inbound(store, text="q0")
    await answer(store, q0, "a0")
    q1 = await inbound(store, text="q1")
    await answer(store, q1, "a1")
    assert [m.text for m in await store.history(q1.conversation_id, q1.id, 10)] == ["a0", "q0"]


async def test_history_leaves_out_notices_and_unanswered_messages_and_other_conversations(
    store: ConversationStore,
) -> None:
    ok = await inbound(store, text="good question")
    await answer(store, ok, "good answer")
    failed = await inbound(store, text="bad question")
    await store.record_reply(failed, Role.NOTICE, "sorry", 1, None, settles=MessageStatus.FAILED)
    await inbound(store, text="never answered")
    elsewhere = await inbound(store, OTHER_THREAD, text="other thread")
    await answer(store, elsewhere, "other answer")
    current = await inbound(store, text="now")
    history = await store.history(current.conversation_id, current.id, 10)
    assert [m.text for m in history] == ["good answer", "good question"]


async def test_history_keeps_a_reply_written_after_the_next_message_arrived(store: ConversationStore) -> None:
    first = await inbound(store, text="first")
    second = await inbound(store, text="second")  # arrived while the first was being answered
    await answer(store, first, "answer to first")
    history = await store.history(second.conversation_id, second.id, 10)
    assert [m.text for m in history] == ["answer to first", "first"]


# ------------------------------------------------------------------ sweeps and money


async def test_unanswered_between_lists_messages_without_a_reply_in_the_window(
    store: ConversationStore,
) -> None:
    start = datetime.now(UTC)
    answered = await inbound(store, text="answered")
    await answer(store, answered)
    lost = await inbound(store, text="lost")
    lost_elsewhere = await inbound(store, OTHER_THREAD, text="lost too")
    handed = await inbound(store, text="for staff")
    await store.set_status(handed.id, MessageStatus.HANDED_OVER)
    replied = await inbound(store, text="reply stored, status not yet settled")
    await answer(store, replied)
    await store.set_status(replied.id, MessageStatus.RECEIVED)
    end = datetime.now(UTC) + timedelta(milliseconds=1)
    found = await store.unanswered_between(start, end)
    assert [(m.id, key) for m, key in found] == [(lost.id, KEY), (lost_elsewhere.id, OTHER_THREAD)]
    assert await store.unanswered_between(end, end + timedelta(hours=1)) == []
    assert await store.unanswered_between(start - timedelta(hours=1), start) == []
    up_to_lost = await store.unanswered_between(start, lost.created_at)  # `before` is not included
    assert lost.id not in [m.id for m, _ in up_to_lost]


async def test_cost_since_adds_up_the_replies_from_then_on(store: ConversationStore) -> None:
    start = datetime.now(UTC)
    msg = await inbound(store)
    await answer(store, msg, usage=Usage("gpt-x", 100, 20, 0.25))
    msg = await inbound(store)
    await answer(store, msg, usage=Usage("gpt-x", 100, 20, None))  # no price configured
    msg = await inbound(store)
    await answer(store, msg, usage=Usage("gpt-y", 10, 2, 0.5))
    assert abs(await store.cost_since(start - timedelta(seconds=1)) - 0.75) < 1e-9
    assert await store.cost_since(datetime.now(UTC) + timedelta(seconds=1)) == 0.0


async def test_spent_since_adds_up_cost_and_tokens_overall_and_per_user(store: ConversationStore) -> None:
    start = datetime.now(UTC) - timedelta(seconds=1)
    ada = await inbound(store, user="U1")
    await answer(store, ada, usage=Usage("gpt-x", 100, 20, 0.25))
    ada = await inbound(store, OTHER_THREAD, user="U1")
    await answer(store, ada, usage=Usage("local", 40, 10, None))  # no price configured
    bob = await inbound(store, user="U2")
    await answer(store, bob, usage=Usage("gpt-x", 10, 2, 0.5))
    elsewhere = await inbound(store, ThreadKey("discord", "G1", "C9", "9"), user="U1")
    await answer(store, elsewhere, usage=Usage("gpt-x", 1, 1, 1.0))  # another platform's U1
    everyone = await store.spent_since(start)
    assert (round(everyone.cost_usd, 9), everyone.tokens) == (1.75, 184)
    just_ada = await store.spent_since(start, ("slack", "U1"))
    assert (round(just_ada.cost_usd, 9), just_ada.tokens) == (0.25, 170)
    assert await store.spent_since(start, ("slack", "U3")) == Spent(0.0, 0)
    later = datetime.now(UTC) + timedelta(seconds=1)
    assert await store.spent_since(later) == Spent(0.0, 0)
    assert await store.spent_since(later, ("slack", "U1")) == Spent(0.0, 0)


def _hold(user: str, usd: float, tokens: int, since: datetime) -> SpendHold:
    return SpendHold(("slack", user), Spent(usd, tokens), since, timedelta(minutes=5))


async def test_hold_spend_shows_the_caps_what_was_used_and_held_and_stores_only_holds_that_fit(
    store: ConversationStore,
) -> None:
    since = datetime.now(UTC) - timedelta(seconds=1)
    earlier = await inbound(store, user="U1")
    await answer(store, earlier, usage=Usage("gpt-x", 100, 20, 0.25))
    seen: list[tuple[SpendLedger, SpendLedger]] = []

    def room(everyone: SpendLedger, mine: SpendLedger) -> str | None:
        seen.append((everyone, mine))
        return None

    first = await store.hold_spend(_hold("U1", 0.5, 300, since), room)
    second = await store.hold_spend(_hold("U2", 0.125, 40, since), room)
    assert isinstance(first, int) and isinstance(second, int) and first != second
    assert seen[0] == (
        SpendLedger(Spent(0.25, 120), Spent(0.0, 0), 0),
        SpendLedger(Spent(0.25, 120), Spent(0.0, 0), 0),
    )
    assert seen[1] == (  # U2 has used nothing and holds nothing; everyone holds U1's call
        SpendLedger(Spent(0.25, 120), Spent(0.5, 300), 1),
        SpendLedger(Spent(0.0, 0), Spent(0.0, 0), 0),
    )
    assert await store.hold_spend(_hold("U1", 9.0, 9, since), lambda e, m: "over") == "over"

    # U1's call ends: its reply is recorded, its hold released; the refused one was never held.
    replied = await inbound(store, user="U1")
    await answer(store, replied, usage=Usage("gpt-x", 30, 10, 0.0625))
    await store.release_spend(first, Spent(0.0625, 40))
    await store.hold_spend(_hold("U1", 0.0, 1, since), room)
    assert seen[-1] == (
        SpendLedger(Spent(0.3125, 160), Spent(0.125, 40), 1),
        SpendLedger(Spent(0.3125, 160), Spent(0.0, 0), 0),
    )
    await store.release_spend(first, Spent(0.0625, 40))  # a second release changes nothing
    await store.hold_spend(_hold("U3", 0.0, 1, since), room)
    assert seen[-1][0].used == Spent(0.3125, 160)

    # Without a cap per user, the user's ledger is left empty; everyone's is counted as ever.
    await store.hold_spend(replace(_hold("U1", 0.0, 1, since), per_user=False), room)
    assert seen[-1] == (SpendLedger(Spent(0.3125, 160), Spent(0.125, 42), 3), NO_SPEND)


async def test_two_holds_at_once_see_each_other(store: ConversationStore) -> None:
    """The check and the hold are one step: of two calls at once with room for one, one is held."""
    since = datetime.now(UTC) - timedelta(seconds=1)

    def room_for_one(everyone: SpendLedger, mine: SpendLedger) -> str | None:
        return "full" if everyone.holds else None

    results = await asyncio.gather(
        *(store.hold_spend(_hold(f"U{n}", 1.0, 10, since), room_for_one) for n in range(4))
    )
    assert sorted(map(str, results)).count("full") == 3, results


async def test_sent_since_counts_the_users_earlier_messages_but_not_those_refused_as_too_fast(
    store: ConversationStore,
) -> None:
    start = datetime.now(UTC) - timedelta(seconds=1)
    first = await inbound(store, user="U1")
    second = await inbound(store, OTHER_THREAD, user="U1")  # another thread of theirs counts too
    await inbound(store, user="U2")
    await inbound(store, ThreadKey("discord", "G1", "C9", "9"), user="U1")  # another platform's U1
    refused = await inbound(store, user="U1")
    await store.set_status(refused.id, MessageStatus.FAILED, TOO_FAST)
    latest = await inbound(store, user="U1")
    assert await store.sent_since("slack", "U1", start, latest.id) == 2  # first and second
    assert await store.sent_since("slack", "U1", start, second.id) == 1  # only those before it
    assert await store.sent_since("slack", "U1", start, first.id) == 0
    assert await store.sent_since("discord", "U1", start, latest.id + 1) == 1
    assert await store.sent_since("slack", "U1", datetime.now(UTC) + timedelta(seconds=1), latest.id) == 0


async def test_stats_counts_conversations_messages_models_and_escalations(store: ConversationStore) -> None:
    a = await inbound(store)
    await answer(store, a, usage=Usage("gpt-x", 100, 20, 0.25))
    b = await inbound(store, OTHER_THREAD)
    await answer(store, b, usage=Usage("gpt-x", 50, 10, None))
    c = await inbound(store, OTHER_THREAD)
    await answer(store, c, usage=Usage("gpt-a", 1, 2, 0.5))
    await store.open_escalation(a.conversation_id, reason="", trigger=Trigger.BUTTON, requested_by="U1")
    await store.claim_escalation(a.conversation_id, "S1")
    await store.resolve_escalation(a.conversation_id, "S1")
    await store.open_escalation(b.conversation_id, reason="", trigger=Trigger.BUTTON, requested_by="U1")
    d = await inbound(store, ThreadKey("discord", "G1", "C1", "C1"))
    await store.open_escalation(d.conversation_id, reason="", trigger=Trigger.BUTTON, requested_by="U1")
    await store.claim_escalation(d.conversation_id, "S1")
    stats = await store.stats()
    assert (stats.conversations, stats.messages) == (3, 7)
    assert stats.by_model == [ModelStats("gpt-a", 1, 1, 2, 0.5), ModelStats("gpt-x", 2, 150, 30, 0.25)]
    assert (stats.escalations, stats.open_escalations) == (3, 2)
    assert len(stats.seconds_to_claim) == 2 and len(stats.seconds_to_resolve) == 1
    assert 0 <= stats.seconds_to_claim[0] <= stats.seconds_to_resolve[0] < 60


# ------------------------------------------------------------------ conversations


async def test_ensure_conversation_creates_once_and_find_finds_it(store: ConversationStore) -> None:
    assert await store.find_conversation(KEY) is None
    created = await store.ensure_conversation(KEY)
    again = await store.ensure_conversation(KEY)
    assert again.id == created.id and created.key == KEY and created.state == ConversationState.BOT
    found = await store.find_conversation(KEY)
    assert found is not None and found.id == created.id
    assert (await store.ensure_conversation(OTHER_THREAD)).id != created.id


async def test_conversation_of_message(store: ConversationStore) -> None:
    await inbound(store, KEY)
    msg = await inbound(store, OTHER_THREAD)
    conv = await store.conversation_of_message(msg.id)
    assert conv is not None and conv.key == OTHER_THREAD
    assert await store.conversation_of_message(msg.id + 1000) is None


async def test_latest_conversation_of_user_is_where_they_wrote_last_in_that_channel(
    store: ConversationStore,
) -> None:
    await inbound(store, KEY, user="U1")
    await inbound(store, OTHER_THREAD, user="U1")
    await inbound(store, KEY, user="U2")  # someone else writing later changes nothing for U1
    await inbound(store, ThreadKey("slack", "T1", "C2", "300.3"), user="U1")  # another channel
    latest = await store.latest_conversation_of_user("slack", "T1", "C1", "U1")
    assert latest is not None and latest.key == OTHER_THREAD
    assert await store.latest_conversation_of_user("slack", "T1", "C1", "U3") is None
    assert await store.latest_conversation_of_user("slack", "T9", "C1", "U1") is None
    assert await store.latest_conversation_of_user("discord", "T1", "C1", "U1") is None


# ------------------------------------------------------------------ escalations


async def test_an_escalation_goes_waiting_then_human_then_resolved(store: ConversationStore) -> None:
    conv = await store.ensure_conversation(KEY)
    opened = await store.open_escalation(conv.id, reason="refund", trigger=Trigger.COMMAND, requested_by="U1")
    assert opened is not None
    assert (opened.state, opened.reason, opened.trigger, opened.requested_by) == (
        "waiting", "refund", "command", "U1",
    )  # fmt: skip
    assert await state_of(store, KEY) == ConversationState.WAITING
    current = await store.current_escalation(conv.id)
    assert current is not None and current.id == opened.id

    claimed = await store.claim_escalation(conv.id, "S1")
    assert claimed is not None and claimed.id == opened.id
    assert (claimed.state, claimed.claimed_by) == ("human", "S1") and claimed.claimed_at is not None
    assert await state_of(store, KEY) == ConversationState.HUMAN

    resolved = await store.resolve_escalation(conv.id, "S2")
    assert resolved is not None and resolved.id == opened.id
    assert (resolved.state, resolved.resolved_by) == ("resolved", "S2") and resolved.resolved_at is not None
    assert await state_of(store, KEY) == ConversationState.BOT
    assert await store.current_escalation(conv.id) is None


async def test_an_escalated_conversation_cannot_be_escalated_again(store: ConversationStore) -> None:
    conv = await store.ensure_conversation(KEY)
    first = await store.open_escalation(conv.id, reason="a", trigger=Trigger.COMMAND, requested_by="U1")
    assert first is not None
    assert await store.open_escalation(conv.id, reason="b", trigger=Trigger.BUTTON, requested_by="U1") is None
    await store.claim_escalation(conv.id, "S1")
    assert await store.open_escalation(conv.id, reason="c", trigger=Trigger.MODEL, requested_by="U1") is None
    assert (await current(store, conv.id)).reason == "a"
    await store.resolve_escalation(conv.id, "S1")
    second = await store.open_escalation(conv.id, reason="d", trigger=Trigger.MODEL, requested_by="U1")
    assert second is not None and second.id != first.id


async def test_claim_and_resolve_are_refused_when_there_is_nothing_to_claim_or_resolve(
    store: ConversationStore,
) -> None:
    conv = await store.ensure_conversation(KEY)
    assert await store.claim_escalation(conv.id, "S1") is None
    assert await store.resolve_escalation(conv.id, "S1") is None
    await store.open_escalation(conv.id, reason="", trigger=Trigger.COMMAND, requested_by="U1")
    assert await store.claim_escalation(conv.id, "S1") is not None
    assert await store.claim_escalation(conv.id, "S2") is None  # already claimed
    assert (await current(store, conv.id)).claimed_by == "S1"
    assert await store.resolve_escalation(conv.id, "S1") is not None
    assert await store.resolve_escalation(conv.id, "S1") is None
    assert await store.claim_escalation(conv.id, "S1") is None
    assert await state_of(store, KEY) == ConversationState.BOT


async def test_a_resolve_before_anyone_claimed_closes_the_escalation(store: ConversationStore) -> None:
    conv = await store.ensure_conversation(KEY)
    await store.open_escalation(conv.id, reason="", trigger=Trigger.COMMAND, requested_by="U1")
    resolved = await store.resolve_escalation(conv.id, "U1")
    assert resolved is not None and resolved.state == "resolved" and resolved.claimed_by is None


async def test_the_staff_thread_leads_to_its_open_escalation(store: ConversationStore) -> None:
    conv = await store.ensure_conversation(KEY)
    opened = await store.open_escalation(conv.id, reason="", trigger=Trigger.COMMAND, requested_by="U1")
    assert opened is not None
    assert await store.escalation_by_staff_thread("discord", "staff", "999") is None
    await store.set_staff_thread(opened.id, "discord", "staff", "999", relay=True)
    found = await store.escalation_by_staff_thread("discord", "staff", "999")
    assert found is not None
    record, key = found
    assert (record.id, key, record.relay) == (opened.id, KEY, True)
    assert (record.staff_platform, record.staff_channel, record.staff_thread) == ("discord", "staff", "999")
    assert await store.escalation_by_staff_thread("slack", "staff", "999") is None
    await store.resolve_escalation(conv.id, "S1")
    assert await store.escalation_by_staff_thread("discord", "staff", "999") is None


async def test_escalations_are_found_by_id_and_the_open_ones_listed(store: ConversationStore) -> None:
    a = await store.ensure_conversation(KEY)
    b = await store.ensure_conversation(OTHER_THREAD)
    ea = await store.open_escalation(a.id, reason="", trigger=Trigger.COMMAND, requested_by="U1")
    eb = await store.open_escalation(b.id, reason="", trigger=Trigger.COMMAND, requested_by="U1")
    assert ea is not None and eb is not None
    assert [(e.id, key) for e, key in await store.open_escalations()] == [(ea.id, KEY), (eb.id, OTHER_THREAD)]
    await store.resolve_escalation(a.id, "S1")
    assert [e.id for e, _ in await store.open_escalations()] == [eb.id]
    found = await store.escalation(ea.id)
    assert found is not None and found[0].state == "resolved" and found[1] == KEY
    assert await store.escalation(eb.id + 1000) is None


async def test_unclaimed_escalations_are_listed_until_reminded_or_claimed(store: ConversationStore) -> None:
    a = await store.ensure_conversation(KEY)
    b = await store.ensure_conversation(OTHER_THREAD)
    before_request = datetime.now(UTC) - timedelta(seconds=1)
    ea = await store.open_escalation(a.id, reason="", trigger=Trigger.COMMAND, requested_by="U1")
    eb = await store.open_escalation(b.id, reason="", trigger=Trigger.COMMAND, requested_by="U1")
    assert ea is not None and eb is not None
    later = datetime.now(UTC) + timedelta(seconds=1)
    assert sorted(e.id for e, _ in await store.unclaimed_since(later)) == [ea.id, eb.id]
    assert await store.unclaimed_since(before_request) == []
    await store.mark_reminded(ea.id)
    await store.claim_escalation(b.id, "S1")
    assert await store.unclaimed_since(later) == []


async def test_satisfaction_is_recorded_only_for_a_resolved_escalation(store: ConversationStore) -> None:
    conv = await store.ensure_conversation(KEY)
    opened = await store.open_escalation(conv.id, reason="", trigger=Trigger.COMMAND, requested_by="U1")
    assert opened is not None
    assert await store.record_satisfaction(opened.id, 5) is False
    await store.claim_escalation(conv.id, "S1")
    assert await store.record_satisfaction(opened.id, 5) is False
    await store.resolve_escalation(conv.id, "S1")
    assert await store.record_satisfaction(opened.id, 4) is True
    found = await store.escalation(opened.id)
    assert found is not None and found[0].satisfaction == 4
    assert await store.record_satisfaction(opened.id + 1000, 4) is False


# ------------------------------------------------------------------ feedback


async def test_feedback_is_one_value_per_user_and_reply_and_can_change(
    store: ConversationStore, backend: Backend
) -> None:
    msg = await inbound(store)
    reply = await answer(store, msg)
    await store.record_feedback(reply, "U1", 1)
    await store.record_feedback(reply, "U2", 1)
    await store.record_feedback(reply, "U1", -1)  # changed their mind
    assert await backend.feedback(store, reply) == {"U1": -1, "U2": 1}


# ------------------------------------------------------------------ forgetting and retention


async def test_forget_user_removes_their_messages_the_replies_feedback_and_ratings(
    store: ConversationStore, backend: Backend
) -> None:
    mine = await inbound(store, text="my email is ada@example.com", user="U1")
    reply = await answer(store, mine)
    theirs = await inbound(store, OTHER_THREAD, text="someone else", user="U2")
    kept = await answer(store, theirs)
    await store.record_feedback(reply, "U1", 1)
    await store.record_feedback(kept, "U1", -1)  # U1's vote on someone else's answer goes too
    await store.record_feedback(kept, "U2", 1)
    conv = await store.find_conversation(KEY)
    assert conv is not None
    opened = await store.open_escalation(
        conv.id, reason="my email is …", trigger=Trigger.KEYWORD, requested_by="U1"
    )
    assert opened is not None
    await store.resolve_escalation(conv.id, "S1")
    await store.record_satisfaction(opened.id, 2)

    removed = await store.forget_user("slack", "U1")
    assert (removed.messages, removed.feedback, removed.ratings) == (2, 2, 1)
    assert await store.messages(conv.id, 10) == []
    other = await store.find_conversation(OTHER_THREAD)
    assert other is not None and [m.text for m in await store.messages(other.id, 10)] == [
        "someone else",
        "answer",
    ]
    assert await backend.feedback(store, kept) == {"U2": 1}
    found = await store.escalation(opened.id)
    assert found is not None and (found[0].satisfaction, found[0].reason) == (None, "")
    # The same user id on another platform is someone else.
    assert (await store.forget_user("discord", "U2")).messages == 0


async def test_purge_before_drops_old_conversations_but_not_open_escalations(
    store: ConversationStore,
) -> None:
    old = await inbound(store, KEY, text="old question")
    await answer(store, old)
    escalated = await inbound(store, OTHER_THREAD, text="still with staff")
    conv = await store.find_conversation(OTHER_THREAD)
    assert conv is not None
    await store.open_escalation(conv.id, reason="", trigger=Trigger.COMMAND, requested_by="U1")
    assert escalated is not None

    assert (await store.purge_before(datetime.now(UTC) - timedelta(days=1))).conversations == 0
    removed = await store.purge_before(datetime.now(UTC) + timedelta(seconds=1))
    assert (removed.conversations, removed.messages) == (1, 2)
    assert await store.find_conversation(KEY) is None
    assert await store.find_conversation(OTHER_THREAD) is not None  # staff still have it


async def test_a_reply_knows_whom_it_answered_and_who_took_part(store: ConversationStore) -> None:
    question = await inbound(store, text="my question", user="U1")
    reply = await answer(store, question)
    found = await store.asker_of(reply)
    assert found is not None and (found[0].key, found[1]) == (KEY, "U1")
    assert await store.asker_of(question.id) is None  # a user message is not a reply
    assert await store.asker_of(reply + 1000) is None
    assert await store.took_part(found[0].id, "U1") and not await store.took_part(found[0].id, "U2")


# ------------------------------------------------------------------ the outbox and backfill


async def test_a_user_name_filled_in_after_the_message_was_stored(store: ConversationStore) -> None:
    msg = await store.record_inbound(
        IncomingMessage(KEY, f"m{next(_ids)}", "U1", "", "hi", False, datetime.now(UTC)), 2
    )
    assert msg is not None
    await store.set_user_name(msg.id, "Ada")
    (stored,) = await store.messages(msg.conversation_id, 10)
    assert stored.user_name == "Ada"


async def test_note_shown_replaces_the_platform_ids_showing_an_answer(store: ConversationStore) -> None:
    msg = await inbound(store)
    assert msg.shown_as == ()
    await store.note_shown(msg.id, ["1.1"])
    await store.note_shown(msg.id, ["1.1", "1.2"])
    (stored,) = await store.messages(msg.conversation_id, 10)
    assert stored.shown_as == ("1.1", "1.2")
    start = stored.created_at - timedelta(seconds=1)
    [(found, _)] = await store.unanswered_between(start, datetime.now(UTC) + timedelta(seconds=1))
    assert found.shown_as == ("1.1", "1.2")
    await store.note_shown(msg.id, [])
    (stored,) = await store.messages(msg.conversation_id, 10)
    assert stored.shown_as == ()


async def test_undelivered_lists_pending_replies_that_are_due_with_what_is_shown(
    store: ConversationStore,
) -> None:
    start = datetime.now(UTC) - timedelta(seconds=1)
    delivered = await inbound(store, text="delivered")
    await store.mark_delivered(await answer(store, delivered), "9.9")
    failed = await inbound(store, text="failed")
    await store.set_status(await answer(store, failed), MessageStatus.FAILED, "gone")
    pending = await inbound(store, text="pending")
    await store.note_shown(pending.id, ["1.1"])
    pending_reply = await answer(store, pending, "the whole answer")
    elsewhere = await inbound(store, OTHER_THREAD, text="pending elsewhere")
    elsewhere_reply = await answer(store, elsewhere)
    now = datetime.now(UTC) + timedelta(seconds=1)

    found = await store.undelivered(start, now)
    assert [(o.reply.id, o.inbound.id, o.key, o.attempts) for o in found] == [
        (pending_reply, pending.id, KEY, 0),
        (elsewhere_reply, elsewhere.id, OTHER_THREAD, 0),
    ]
    assert (found[0].reply.text, found[0].inbound.shown_as) == ("the whole answer", ("1.1",))
    assert await store.undelivered(now, now) == []  # created before `since`

    await store.retry_later(pending_reply, "ratelimited", now + timedelta(minutes=1))
    assert [o.reply.id for o in await store.undelivered(start, now)] == [elsewhere_reply]
    [again] = [
        o for o in await store.undelivered(start, now + timedelta(minutes=1)) if o.reply.id == pending_reply
    ]
    assert (again.attempts, again.reply.error, again.reply.status) == (
        1,
        "ratelimited",
        MessageStatus.PENDING,
    )
    await store.mark_delivered(pending_reply, "1.1")
    assert [o.reply.id for o in await store.undelivered(start, now + timedelta(hours=1))] == [elsewhere_reply]


async def test_a_read_back_stays_due_from_the_oldest_session_whose_read_back_never_finished(
    store: ConversationStore,
) -> None:
    first = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
    second, third = first + timedelta(seconds=3), first + timedelta(seconds=9)
    assert await store.read_back_due("discord", 0, first) == first
    # That process stopped before its read-back was done: the next sessions read from its start.
    assert await store.read_back_due("discord", 0, second) == first
    assert await store.read_back_due("discord", 1, second) == second  # each shard its own
    assert await store.read_back_due("slack", 0, third) == third
    await store.read_back_done("discord", 0, first)
    assert await store.read_back_due("discord", 0, third) == third
    assert await store.read_back_due("discord", 1, third) == second


async def test_recent_conversations_have_their_latest_user_message_id(store: ConversationStore) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    first = await inbound(store, message_id="1001")
    await answer(store, first)
    await inbound(store, message_id="1002")
    discord = ThreadKey("discord", "", "55", "55")
    await inbound(store, discord, message_id="2001")
    empty = await store.ensure_conversation(ThreadKey("slack", "T1", "C9", "9.9"))
    found = {conv.key: latest for conv, latest in await store.recent_conversations("slack", before)}
    assert found == {KEY: "1002", empty.key: None}
    assert [latest for _, latest in await store.recent_conversations("discord", before)] == ["2001"]
    later = datetime.now(UTC) + timedelta(seconds=1)
    assert await store.recent_conversations("slack", later) == []
    # Bounded: what was stored before a moment (a gateway session's start), not what came after it.
    session = datetime.now(UTC)
    await inbound(store, message_id="1003")
    bounded = {c.key: m for c, m in await store.recent_conversations("slack", before, session)}
    assert bounded == {KEY: "1002", empty.key: None}
    assert {c.key: m for c, m in await store.recent_conversations("slack", before)}[KEY] == "1003"
