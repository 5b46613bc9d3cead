"""Slack's proposed help entry under a handoff card (the learning loop): its blocks, with Save and
Discard buttons for staff, and their values."""

from __future__ import annotations

from adapters.slack.blocks import Block, button
from adapters.slack.mrkdwn import escape
from bot.handoff.ports import LearnedProposal

LEARNED_SAVE_ACTION = "supportbot_learned_save"
LEARNED_DISCARD_ACTION = "supportbot_learned_discard"
ACTIONS = {LEARNED_SAVE_ACTION: "save", LEARNED_DISCARD_ACTION: "discard"}


def proposal_blocks(proposal: LearnedProposal) -> list[Block]:
    """The proposal as text (escaped: it quotes the conversation) and the two staff buttons."""
    entry = str(proposal.entry_id)
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": escape(proposal.text)}},
        {
            "type": "actions",
            "block_id": f"supportbot_learned_{entry}",
            "elements": [
                button("Save", LEARNED_SAVE_ACTION, entry, style="primary"),
                button("Discard", LEARNED_DISCARD_ACTION, entry),
            ],
        },
    ]
