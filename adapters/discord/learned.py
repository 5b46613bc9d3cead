"""Discord's proposed help entry under a handoff card (the learning loop): the message with Save,
Edit and Discard buttons for staff (DynamicItems: the custom_id carries the entry id, so they survive
restarts), and the modal Edit opens."""

from __future__ import annotations

import re
from typing import Any

import discord

from adapters.discord.client import Interaction, SupportClient
from bot.handoff.ports import LearnedProposal
from bot.ids import ID_PATTERN
from bot.reply.split import split_message

LABELS = {
    "save": ("Save", discord.ButtonStyle.success),
    "edit": ("Edit", discord.ButtonStyle.primary),  # opens EditModal, whose submission saves
    "discard": ("Discard", discord.ButtonStyle.secondary),
}
MESSAGE_LIMIT = 2000
ANSWER_CHARS = 4000  # Discord's limit for a text input


class LearnedButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=rf"supportbot:learned:(?P<action>save|edit|discard):(?P<entry>{ID_PATTERN})",
):
    """Save or Discard under a proposed help entry; the core refuses anyone who isn't staff."""

    def __init__(self, action: str, entry_id: int) -> None:
        label, style = LABELS[action]
        super().__init__(
            discord.ui.Button(label=label, style=style, custom_id=f"supportbot:learned:{action}:{entry_id}")
        )
        self.action = action
        self.entry_id = entry_id

    @classmethod
    async def from_custom_id(
        cls, interaction: Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> LearnedButton:
        return cls(match["action"], int(match["entry"]))

    async def callback(self, interaction: Interaction) -> None:
        client = interaction.client
        if not isinstance(client, SupportClient):
            return
        if self.action != "edit":
            await client.interactions.learned(interaction, self.action, self.entry_id)
            return
        draft = await client.interactions.learned_draft(interaction, self.entry_id)
        if draft is not None:
            await interaction.response.send_modal(EditModal(self.entry_id, draft))


class EditModal(discord.ui.Modal):
    """The answer of a proposed help entry, for staff to edit; submitting saves the entry."""

    def __init__(self, entry_id: int, draft: str) -> None:
        super().__init__(title="Edit the help entry", custom_id=f"supportbot:learned:editing:{entry_id}")
        self.entry_id = entry_id
        self.answer: discord.ui.TextInput[EditModal] = discord.ui.TextInput(
            label="Answer",
            style=discord.TextStyle.paragraph,
            default=draft[:ANSWER_CHARS],
            max_length=ANSWER_CHARS,
            custom_id="answer",
        )
        self.add_item(self.answer)

    async def on_submit(self, interaction: Interaction) -> None:
        client = interaction.client
        if isinstance(client, SupportClient):
            await client.interactions.learned(interaction, "save", self.entry_id, self.answer.value)


def proposal_view(entry_id: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for action in ("save", "edit", "discard"):
        view.add_item(LearnedButton(action, entry_id))
    return view


async def post_proposal(target: discord.abc.Messageable, proposal: LearnedProposal) -> None:
    """The proposal's text (split at Discord's limit, pinging nobody), the buttons on the last part."""
    parts = split_message(discord.utils.escape_mentions(proposal.text), MESSAGE_LIMIT)
    nobody = discord.AllowedMentions.none()
    for part in parts[:-1]:
        await target.send(part, allowed_mentions=nobody)
    await target.send(parts[-1], view=proposal_view(proposal.entry_id), allowed_mentions=nobody)
