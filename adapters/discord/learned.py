"""Discord's proposed help entry under a handoff card (the learning loop): the message with Save and
Discard buttons for staff (DynamicItems: the custom_id carries the entry id, so they survive restarts)."""

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
    "discard": ("Discard", discord.ButtonStyle.secondary),
}
MESSAGE_LIMIT = 2000


class LearnedButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=rf"supportbot:learned:(?P<action>save|discard):(?P<entry>{ID_PATTERN})",
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
        if isinstance(client, SupportClient):
            await client.interactions.learned(interaction, self.action, self.entry_id)


def proposal_view(entry_id: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(LearnedButton("save", entry_id))
    view.add_item(LearnedButton("discard", entry_id))
    return view


async def post_proposal(target: discord.abc.Messageable, proposal: LearnedProposal) -> None:
    """The proposal's text (split at Discord's limit, pinging nobody), the buttons on the last part."""
    parts = split_message(discord.utils.escape_mentions(proposal.text), MESSAGE_LIMIT)
    nobody = discord.AllowedMentions.none()
    for part in parts[:-1]:
        await target.send(part, allowed_mentions=nobody)
    await target.send(parts[-1], view=proposal_view(proposal.entry_id), allowed_mentions=nobody)
