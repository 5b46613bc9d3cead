"""Block Kit for the handoff: the staff card with Claim/Resolve, and the 1–5 rating buttons for the user."""

from __future__ import annotations

from adapters.slack.blocks import SECTION_LIMIT, Block, button
from adapters.slack.mrkdwn import escape
from bot.handoff.ports import StaffCard
from bot.ids import parse_id

CLAIM_ACTION = "supportbot_claim"
RESOLVE_ACTION = "supportbot_resolve"
RATE_ACTION = "supportbot_rate"  # rate_1 … rate_5: action ids must differ within one block
HEADER_LIMIT = 150  # characters of a header block's plain text


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def card_message(card: StaffCard, group_id: str) -> tuple[str, list[Block]]:
    """The card's notification text and blocks; the staff group is mentioned in both."""
    mention = f"<!subteam^{group_id}> " if group_id else ""
    who, reason = escape(card.user_name), escape(card.reason)
    title = card.title
    hours = card.hours if card.in_hours else f"*{card.hours}*"
    where = card.how_to_reply(lambda label, url: f"<{url}|{label}>")
    return (
        f"{mention}Escalation #{card.escalation_id} from {who}: {reason}",
        [
            {"type": "header", "text": {"type": "plain_text", "text": _cut(title, HEADER_LIMIT)}},
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": _cut(f"{mention}*Reason:* {reason}\n*Trigger:* {card.trigger} · {hours}", 3000),
                },
            },
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": _cut(f"*Summary*\n{escape(card.summary)}", SECTION_LIMIT)},
            },
            {"type": "context", "elements": [{"type": "mrkdwn", "text": where}]},
            {
                "type": "actions",
                "block_id": f"supportbot_card_{card.escalation_id}",
                "elements": [
                    button("Claim", CLAIM_ACTION, str(card.escalation_id), "primary"),
                    button("Resolve", RESOLVE_ACTION, str(card.escalation_id), "danger"),
                ],
            },
        ],
    )


def rating_blocks(text: str, escalation_id: int) -> list[Block]:
    """The user's message with 1–5 buttons; each value is "<escalation id>:<score>"."""
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": _cut(escape(text), SECTION_LIMIT)}},
        {
            "type": "actions",
            "block_id": f"supportbot_rate_{escalation_id}",
            "elements": [button(str(n), f"{RATE_ACTION}_{n}", f"{escalation_id}:{n}") for n in range(1, 6)],
        },
    ]


def decode_rating(value: str) -> tuple[int, int] | None:
    """(escalation id, score) from a rating button's value."""
    escalation, _, score = value.partition(":")
    escalation_id = parse_id(escalation)
    if escalation_id is None or score not in ("1", "2", "3", "4", "5"):
        return None
    return escalation_id, int(score)
