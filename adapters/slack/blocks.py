"""Block Kit for answers: the text, "Talk to a human" and "That solved it" buttons, 👍/👎 feedback,
and their values."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.events import ReplyDone, ReplyStatus
from bot.ids import parse_id
from bot.reply.split import split_message

HUMAN_ACTION = "supportbot_human"
SOLVED_ACTION = "supportbot_solved"  # "That solved it": a confirmed resolution (bot/analytics)
FEEDBACK_ACTION = "supportbot_feedback"  # the feedback_buttons element (one element, two values)
FEEDBACK_UP_ACTION = "supportbot_feedback_up"  # classic buttons, where feedback_buttons is unsupported
FEEDBACK_DOWN_ACTION = "supportbot_feedback_down"
ESCALATE_SHORTCUT = "supportbot_escalate"  # the message shortcut's callback_id
SECTION_LIMIT = 3000  # characters of text in one section block

Block = dict[str, Any]


@dataclass(frozen=True, slots=True)
class ActionValue:
    """What a button carries: the reply it belongs to and, for feedback, the vote or trigger."""

    kind: str  # "up" | "down" for feedback; "button" | "feedback" for the human button's trigger
    reply_id: int


def encode(kind: str, reply_id: int) -> str:
    return f"{kind}:{reply_id}"


def decode(value: str) -> ActionValue | None:
    """The button's value, or None when it is not "<kind>:<reply id>" (an id as bot.ids reads it)."""
    kind, _, number = value.partition(":")
    reply_id = parse_id(number)
    return ActionValue(kind, reply_id) if reply_id is not None else None


def button(text: str, action_id: str, value: str, style: str | None = None) -> Block:
    """A Block Kit button; `value` comes back in the action payload."""
    button: Block = {
        "type": "button",
        "text": {"type": "plain_text", "text": text, "emoji": True},
        "action_id": action_id,
        "value": value,
    }
    if style:
        button["style"] = style
    return button


def text_blocks(mrkdwn: str) -> list[Block]:
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": part}}
        for part in split_message(mrkdwn, SECTION_LIMIT)
    ]


def human_button(reply_id: int, trigger: str = "button") -> Block:
    return button("Talk to a human", HUMAN_ACTION, encode(trigger, reply_id))


def reply_actions(done: ReplyDone, *, native_feedback: bool) -> list[Block] | None:
    """The buttons under a finished reply: none under refusals and handovers, feedback only under
    answers (a failure's apology gets just the human button)."""
    if done.reply_id is None or done.status in (ReplyStatus.REFUSED, ReplyStatus.ESCALATED):
        return None
    answered = done.status is ReplyStatus.ANSWERED
    return answer_actions(done.reply_id, feedback=answered, native_feedback=native_feedback)


def answer_actions(reply_id: int, *, feedback: bool, native_feedback: bool) -> list[Block]:
    """The buttons under an answer: always a human; "That solved it" and feedback only on real answers."""
    buttons: list[Block] = [human_button(reply_id)]
    if feedback:
        buttons.append(button("That solved it", SOLVED_ACTION, encode("solved", reply_id)))
    if feedback and not native_feedback:
        buttons.append(button("👍", FEEDBACK_UP_ACTION, encode("up", reply_id)))
        buttons.append(button("👎", FEEDBACK_DOWN_ACTION, encode("down", reply_id)))
    blocks: list[Block] = [{"type": "actions", "block_id": f"supportbot_{reply_id}", "elements": buttons}]
    if feedback and native_feedback:
        blocks.append(
            {
                "type": "context_actions",
                "block_id": f"supportbot_feedback_{reply_id}",
                "elements": [
                    {
                        "type": "feedback_buttons",
                        "action_id": FEEDBACK_ACTION,
                        "positive_button": {
                            "text": {"type": "plain_text", "text": "👍"},
                            "accessibility_label": "This answer helped",
                            "value": encode("up", reply_id),
                        },
                        "negative_button": {
                            "text": {"type": "plain_text", "text": "👎"},
                            "accessibility_label": "This answer did not help",
                            "value": encode("down", reply_id),
                        },
                    }
                ],
            }
        )
    return blocks


def offer_human_blocks(text: str, reply_id: int) -> list[Block]:
    """An ephemeral offer of a person after a 👎."""
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": text}},
        {"type": "actions", "elements": [human_button(reply_id, trigger="feedback")]},
    ]
