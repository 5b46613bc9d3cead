"""The outcome rules (bot/analytics/outcomes.py) on records built by hand, one rule at a time, and
the precedence between them. The same rules run through the fake platforms in test_outcomes_e2e.py."""

from __future__ import annotations

from bot.analytics.outcomes import Outcome, judge
from bot.storage.store import EscalationRecord, Grounding, MessageStatus, Turn
from tests.analytics.records import ask, at, conversation, escalation, reply

LATER = at(60 * 48)  # two days after the conversations below


def outcome_of(*turns: Turn, escalations: tuple[EscalationRecord, ...] = ()) -> Outcome:
    return judge(conversation(*turns, escalations=escalations), LATER, 24.0).outcome


def test_a_thumbs_up_or_that_solved_it_confirms_a_resolution() -> None:
    q = ask("how do I export?", 0)
    assert outcome_of(q, reply(q, 1, feedback=1)) is Outcome.RESOLVED_CONFIRMED
    q = ask("how do I export?", 0)
    assert outcome_of(q, reply(q, 1, solved=True)) is Outcome.RESOLVED_CONFIRMED


def test_a_rating_of_four_or_five_confirms_even_after_an_escalation_and_three_does_not() -> None:
    q = ask("refund", 0)
    rated = judge(
        conversation(q, reply(q, 1), escalations=(escalation(2, resolved=30, rating=4),)), LATER, 24
    )
    assert (rated.outcome, rated.escalated, rated.deflected) == (Outcome.RESOLVED_CONFIRMED, True, False)
    q = ask("refund", 0)
    assert (
        outcome_of(q, reply(q, 1), escalations=(escalation(2, resolved=30, rating=3),)) is Outcome.ESCALATED
    )


def test_an_escalation_wins_over_a_thumbs_down() -> None:
    q = ask("refund", 0)
    assert outcome_of(q, reply(q, 1, feedback=-1), escalations=(escalation(2),)) is Outcome.ESCALATED


def test_a_thumbs_down_without_an_escalation_is_negative() -> None:
    q = ask("refund", 0)
    assert outcome_of(q, reply(q, 1, feedback=-1)) is Outcome.NEGATIVE


def test_an_answer_followed_by_silence_is_assumed_resolved_once_the_hours_pass() -> None:
    q = ask("export", 0)
    answered = conversation(q, reply(q, 1))
    assert judge(answered, at(1 + 60 * 24), 24).outcome is Outcome.RESOLVED_ASSUMED
    assert judge(answered, at(1 + 60 * 23), 24).outcome is Outcome.PENDING
    assert judge(answered, at(1), 0).outcome is Outcome.RESOLVED_ASSUMED  # 0 hours: at once
    assert judge(answered, at(1), 0).deflected


def test_an_unanswered_last_message_is_abandoned_not_resolved() -> None:
    q = ask("export", 0, MessageStatus.FAILED)
    assert outcome_of(q, reply(q, 1, grounding=Grounding.NO_MODEL)) is Outcome.ABANDONED
    q = ask("merge workspaces", 0)
    assert outcome_of(q, reply(q, 1, grounding=Grounding.NOTHING_FOUND)) is Outcome.ABANDONED
    q = ask("merge workspaces", 0)
    assert outcome_of(q, reply(q, 1, grounding=Grounding.CITED_NONE)) is Outcome.ABANDONED
    assert outcome_of(ask("hello?", 0, MessageStatus.RECEIVED)) is Outcome.ABANDONED


def test_coming_back_after_being_counted_resolved_is_a_reopening() -> None:
    q1 = ask("export", 0)
    q2 = ask("and on mobile?", 60 * 30)  # 30 h after the answer: it had been assumed resolved
    back = judge(conversation(q1, reply(q1, 1), q2, reply(q2, 60 * 30 + 1)), at(60 * 60), 24)
    assert back.reopened == 1 and back.outcome is Outcome.RESOLVED_ASSUMED
    q1, q2 = ask("export", 0), ask("and on mobile?", 5)  # a follow-up minutes later: same visit
    assert judge(conversation(q1, reply(q1, 1), q2, reply(q2, 6)), LATER, 0).reopened == 0
    q1, q2 = ask("export", 0), ask("one more thing", 3)  # after a 👍: counted resolved, then back
    assert judge(conversation(q1, reply(q1, 1, feedback=1), q2, reply(q2, 4)), LATER, 24).reopened == 1
    q1, q2 = ask("refund", 0), ask("it happened again", 90)  # after a resolve they rated 5
    rated = (escalation(2, resolved=60, rating=5),)
    assert (
        judge(conversation(q1, reply(q1, 1), q2, reply(q2, 91), escalations=rated), LATER, 24).reopened == 1
    )
