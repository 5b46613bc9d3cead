"""What the `ConversationStore` promises for analytics and the learning loop, against every backend:
staff messages, answer facts, "That solved it", a period's activity, learned entries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.events import AnswerTimings, Usage
from bot.handoff.states import Trigger
from bot.storage.store import (
    ConversationStore,
    Grounding,
    LearnedStatus,
    MessageStatus,
    Role,
)
from tests.storage.test_store_contract import KEY, OTHER_THREAD, answer, inbound

WIDE = (datetime.now(UTC) - timedelta(days=1), datetime.now(UTC) + timedelta(days=1))


async def test_a_staff_message_is_stored_once_in_the_transcript_with_the_staff_role(
    store: ConversationStore,
) -> None:
    q = await inbound(store, text="my invoice is wrong")
    staff_id = await store.record_staff_message(
        q.conversation_id, "S1", "Sam", "I fixed it", tokens=4, platform_message_id="s-1"
    )
    assert staff_id is not None
    again = await store.record_staff_message(
        q.conversation_id, "S1", "Sam", "I fixed it", tokens=4, platform_message_id="s-1"
    )
    assert again is None  # a redelivery of the same platform message
    *_, last = await store.messages(q.conversation_id, 10)
    assert (last.id, last.role, last.text, last.user_id, last.user_name, last.status) == (
        staff_id, Role.STAFF, "I fixed it", "S1", "Sam", MessageStatus.DELIVERED,
    )  # fmt: skip
    assert await store.record_staff_message(q.conversation_id, "S1", "Sam", "again", tokens=1) is not None


async def test_history_after_a_handoff_holds_what_the_user_and_staff_said(store: ConversationStore) -> None:
    q = await inbound(store, text="q1")
    await answer(store, q, "a1")
    await store.open_escalation(q.conversation_id, reason="", trigger=Trigger.COMMAND, requested_by="U1")
    during = await inbound(store, text="still broken")
    await store.set_status(during.id, MessageStatus.HANDED_OVER)
    await store.record_staff_message(q.conversation_id, "S1", "Sam", "reset it for you", tokens=5)
    await store.resolve_escalation(q.conversation_id, "S1")
    after = await inbound(store, text="thanks, one more thing")
    history = await store.history(after.conversation_id, after.id, 10)
    assert [(m.role, m.text) for m in history] == [
        (Role.STAFF, "reset it for you"),
        (Role.USER, "still broken"),
        (Role.ASSISTANT, "a1"),
        (Role.USER, "q1"),
    ]
    # Nothing written after the message is in its history.
    assert [m.text for m in await store.history(q.conversation_id, during.id, 10)] == ["a1", "q1"]


async def test_activity_holds_a_periods_conversations_with_facts_feedback_and_escalations(
    store: ConversationStore,
) -> None:
    q = await inbound(store, text="how do I export?")
    usage = Usage("gpt-4o", 100, 20, 0.0025)
    reply = await answer(store, q, "Like this [1]", usage)
    await store.record_answer_facts(reply, grounding=Grounding.CITED)
    await store.record_answer_facts(reply, timings=AnswerTimings(0.2, 0.9, 2.5))
    await store.record_answer_facts(reply, timings=AnswerTimings(None, None, 3.0))  # keeps the others
    await store.record_feedback(reply, "U1", 1)
    await store.record_solved(reply, "U1")
    await store.record_solved(reply, "U1")
    other = await inbound(store, OTHER_THREAD, text="refund")
    await store.open_escalation(other.conversation_id, reason="r", trigger=Trigger.BUTTON, requested_by="U1")

    found = await store.activity(*WIDE)
    assert [a.conversation.key for a in found] == [KEY, OTHER_THREAD]
    first, second = found
    question, replied = first.turns
    assert (question.role, question.text, question.user_id) == (Role.USER, "how do I export?", "U1")
    assert (replied.role, replied.reply_to, replied.cost_usd, replied.grounding) == (
        Role.ASSISTANT, q.id, 0.0025, Grounding.CITED,
    )  # fmt: skip
    assert replied.timings == AnswerTimings(0.2, 0.9, 3.0)
    assert (replied.feedback, replied.solved) == (1, True)
    assert question.timings is None and not question.solved and question.feedback == 0
    assert first.escalations == ()
    (escalation,) = second.escalations
    assert (escalation.reason, escalation.trigger) == ("r", Trigger.BUTTON)
    later = datetime.now(UTC) + timedelta(days=1)
    assert await store.activity(later, later + timedelta(days=1)) == []


async def test_learned_entries_are_proposed_once_per_escalation_and_decided_once(
    store: ConversationStore,
) -> None:
    q = await inbound(store, text="how do I merge accounts?")
    record = await store.open_escalation(
        q.conversation_id, reason="", trigger=Trigger.COMMAND, requested_by="U1"
    )
    assert record is not None
    entry = await store.propose_learned(
        record.id, q.conversation_id, "Merge accounts?", "Ask us.", "exchange"
    )
    assert entry is not None
    assert (entry.status, entry.question, entry.answer, entry.drafted_by, entry.decided_at) == (
        LearnedStatus.PROPOSED, "Merge accounts?", "Ask us.", "exchange", None,
    )  # fmt: skip
    assert await store.propose_learned(record.id, q.conversation_id, "again", "again", "model") is None
    assert await store.learned_entries(LearnedStatus.PROPOSED) == [entry]
    approved = await store.decide_learned(entry.id, LearnedStatus.APPROVED, "S1", answer="Settings → Merge.")
    assert approved is not None
    assert (approved.status, approved.answer, approved.decided_by) == (
        LearnedStatus.APPROVED, "Settings → Merge.", "S1",
    )  # fmt: skip
    assert approved.decided_at is not None
    assert await store.decide_learned(entry.id, LearnedStatus.DISCARDED, "S2") is None
    assert await store.decide_learned(999, LearnedStatus.APPROVED, "S1") is None
    assert await store.learned_entries(LearnedStatus.PROPOSED) == []
    assert await store.learned_entries() == [approved]


async def test_forgetting_and_retention_take_the_answer_facts_with_the_messages(
    store: ConversationStore,
) -> None:
    q = await inbound(store, text="q")
    reply = await answer(store, q)
    await store.record_answer_facts(reply, grounding=Grounding.NO_MODEL)
    await store.record_solved(reply, "U1")
    removed = await store.forget_user("slack", "U1")
    assert removed.messages == 2
    assert await store.activity(*WIDE) == []
    q = await inbound(store, text="q")
    reply = await answer(store, q)
    await store.record_answer_facts(reply, grounding=Grounding.CITED)
    await store.purge_before(datetime.now(UTC) + timedelta(seconds=1))
    assert await store.activity(*WIDE) == []
