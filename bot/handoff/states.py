"""The handoff's vocabulary: who has a conversation, where an escalation stands, and what started it."""

from __future__ import annotations

from enum import StrEnum


class ConversationState(StrEnum):
    """Who answers: the bot, nobody yet (escalated, waiting for staff), or a person."""

    BOT = "bot"
    WAITING = "waiting"
    HUMAN = "human"


class EscalationState(StrEnum):
    WAITING = "waiting"  # handed over, no person yet
    HUMAN = "human"  # claimed by staff
    RESOLVED = "resolved"  # back with the bot


class Trigger(StrEnum):
    """How an escalation was asked for (stored with it, shown on the card)."""

    COMMAND = "command"  # /escalate
    BUTTON = "button"  # "Talk to a human" under an answer
    SHORTCUT = "shortcut"  # Slack's message shortcut
    FEEDBACK = "feedback"  # the offer of a person after a 👎
    MODEL = "model"  # the model called its escalate_to_human tool
    KEYWORD = "keyword"  # a configured phrase in the user's message
