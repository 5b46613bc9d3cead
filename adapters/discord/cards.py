"""Discord components for the handoff: the staff card's embed and its Claim/Resolve buttons, and the
1–5 rating buttons sent to the user. Buttons are DynamicItems, so they work after a restart."""

from __future__ import annotations

import re
from typing import Any

import discord

from adapters.discord.client import Interaction, SupportClient
from bot.handoff.ports import StaffCard
from bot.ids import ID_PATTERN

EMBED_TEXT = 4096  # characters of an embed's description
FIELD_TEXT = 1024  # … of one embed field

STAFF_LABELS = {
    "claim": ("Claim", discord.ButtonStyle.success),
    "resolve": ("Resolve", discord.ButtonStyle.danger),
}


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class StaffButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=rf"supportbot:(?P<action>claim|resolve):(?P<escalation>{ID_PATTERN})",
):
    """Claim or Resolve on a handoff card; the custom_id carries the escalation id (survives restarts)."""

    def __init__(self, action: str, escalation_id: int) -> None:
        label, style = STAFF_LABELS[action]
        super().__init__(
            discord.ui.Button(label=label, style=style, custom_id=f"supportbot:{action}:{escalation_id}")
        )
        self.action = action
        self.escalation_id = escalation_id

    @classmethod
    async def from_custom_id(
        cls, interaction: Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> StaffButton:
        return cls(match["action"], int(match["escalation"]))

    async def callback(self, interaction: Interaction) -> None:
        client = interaction.client
        if isinstance(client, SupportClient):
            await client.interactions.staff_button(interaction, self.action, self.escalation_id)


class RateButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=rf"supportbot:rate:(?P<escalation>{ID_PATTERN}):(?P<score>[1-5])",
):
    """One of the 1–5 satisfaction buttons sent to the user when their escalation is resolved."""

    def __init__(self, escalation_id: int, score: int) -> None:
        super().__init__(
            discord.ui.Button(
                label=str(score),
                style=discord.ButtonStyle.secondary,
                custom_id=f"supportbot:rate:{escalation_id}:{score}",
            )
        )
        self.escalation_id = escalation_id
        self.score = score

    @classmethod
    async def from_custom_id(
        cls, interaction: Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> RateButton:
        return cls(int(match["escalation"]), int(match["score"]))

    async def callback(self, interaction: Interaction) -> None:
        client = interaction.client
        if isinstance(client, SupportClient):
            await client.interactions.rate(interaction, self.escalation_id, self.score)


def card_view(escalation_id: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(StaffButton("claim", escalation_id))
    view.add_item(StaffButton("resolve", escalation_id))
    return view


def rating_view(escalation_id: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for score in range(1, 6):
        view.add_item(RateButton(escalation_id, score))
    return view


def card_embed(card: StaffCard) -> discord.Embed:
    embed = discord.Embed(
        title=cut(card.title, 256),
        description=cut(card.summary, EMBED_TEXT),
    )
    embed.add_field(name="Reason", value=cut(card.reason, FIELD_TEXT), inline=False)
    embed.add_field(name="Trigger", value=card.trigger)
    embed.add_field(name="Hours", value=card.hours)
    where = card.how_to_reply(lambda label, url: f"[{label}]({url})")
    embed.add_field(name="Conversation", value=where, inline=False)
    return embed
