"""Slack's proposed help entry under a handoff card (the learning loop): its blocks, with Save, Edit
and Discard buttons for staff, and the modal Edit opens."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from adapters.slack.blocks import Block, button
from adapters.slack.mrkdwn import escape
from bot.handoff.ports import LearnedProposal
from bot.ids import parse_id

LEARNED_SAVE_ACTION = "supportbot_learned_save"
LEARNED_DISCARD_ACTION = "supportbot_learned_discard"
LEARNED_EDIT_ACTION = "supportbot_learned_edit"  # opens EDIT_VIEW, whose submission saves
EDIT_VIEW = "supportbot_learned_edit_view"
ACTIONS = {LEARNED_SAVE_ACTION: "save", LEARNED_DISCARD_ACTION: "discard"}
ANSWER_CHARS = 3000  # Slack's limit for a plain_text_input


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
                button("Edit", LEARNED_EDIT_ACTION, entry),
                button("Discard", LEARNED_DISCARD_ACTION, entry),
            ],
        },
    ]


def edit_view(entry_id: int, answer: str, channel: str, thread: str | None) -> dict[str, Any]:
    """The modal to edit a proposed entry's answer; submitting it saves the entry. Where the card
    is rides along in private_metadata, for the note that says it was saved."""
    return {
        "type": "modal",
        "callback_id": EDIT_VIEW,
        "private_metadata": json.dumps({"entry": entry_id, "channel": channel, "thread": thread}),
        "title": {"type": "plain_text", "text": "Edit the help entry"},
        "submit": {"type": "plain_text", "text": "Save"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {
                "type": "input",
                "block_id": "answer",
                "label": {"type": "plain_text", "text": "Answer"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": "answer",
                    "multiline": True,
                    "max_length": ANSWER_CHARS,
                    "initial_value": answer[:ANSWER_CHARS],
                },
            }
        ],
    }


def submitted(view: Mapping[str, Any]) -> tuple[int, str, str, str | None] | None:
    """(entry id, answer, card channel, card thread) from a submitted edit view, or None if malformed."""
    try:
        meta = json.loads(str(view.get("private_metadata", "")))
        answer = view["state"]["values"]["answer"]["answer"]["value"]
    except (ValueError, KeyError, TypeError):
        return None
    entry = parse_id(str(meta.get("entry", ""))) if isinstance(meta, dict) else None
    if entry is None or not isinstance(answer, str):
        return None
    thread = meta.get("thread")
    return entry, answer, str(meta.get("channel", "")), thread if isinstance(thread, str) else None
