"""The discord.py client, its slash commands and the buttons on answers, translated into core calls.

Buttons are DynamicItems: their custom_id carries the reply id, so they work after a restart without
keeping a view per message in memory. Every interaction is answered, or deferred, within 3 seconds.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import discord
from discord import app_commands

from bot.app import App
from bot.events import ReplyStatus, ThreadKey
from bot.handoff.escalation import EscalationError, Outcome

log = logging.getLogger(__name__)

PLATFORM = "discord"
DOWNVOTED = "Thanks for telling us. Would you like a person from the team to help?"
SORRY = "Sorry, something went wrong there. Please try again in a moment."
HELP = (
    "I answer questions about our product from our documentation.\n"
    "• In a DM, just write. In a server, mention me and I'll answer (in a thread, where you can"
    " keep asking).\n"
    "• Press **Talk to a human** under an answer, or use `/escalate [reason]`, to reach a person"
    " from the team; I stay quiet while they help you.\n"
    "• 👍 / 👎 under an answer tell us whether it helped."
)
# action -> (label, emoji, style)
BUTTONS: dict[str, tuple[str | None, str | None, discord.ButtonStyle]] = {
    "up": (None, "👍", discord.ButtonStyle.secondary),
    "down": (None, "👎", discord.ButtonStyle.secondary),
    "human": ("Talk to a human", None, discord.ButtonStyle.primary),
    "feedback": ("Talk to a human", None, discord.ButtonStyle.primary),  # offered after a 👎
}
BUTTONS_BY_STATUS: dict[ReplyStatus, tuple[str, ...]] = {
    ReplyStatus.ANSWERED: ("up", "down", "human"),
    ReplyStatus.FAILED: ("human",),
    ReplyStatus.REFUSED: ("human",),
    ReplyStatus.ESCALATED: (),
}

Interaction = discord.Interaction[discord.Client]


class ReplyButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=r"supportbot:(?P<action>up|down|human|feedback):(?P<reply>[0-9]+)",
):
    """A button under an answer; its custom_id names the action and the stored reply it is about."""

    def __init__(self, action: str, reply_id: int) -> None:
        label, emoji, style = BUTTONS[action]
        button: discord.ui.Button[discord.ui.View] = discord.ui.Button(
            label=label, emoji=emoji, style=style, custom_id=f"supportbot:{action}:{reply_id}"
        )
        super().__init__(button)
        self.action = action
        self.reply_id = reply_id

    @classmethod
    async def from_custom_id(
        cls, interaction: Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> ReplyButton:
        return cls(match["action"], int(match["reply"]))

    async def callback(self, interaction: Interaction) -> None:
        client = interaction.client
        if isinstance(client, SupportClient):
            await client.interactions.button(interaction, self.action, self.reply_id)


def reply_view(reply_id: int | None, status: ReplyStatus | None) -> discord.ui.View | None:
    """The buttons for a reply with this status (None: the offer after a 👎), or None for none."""
    actions = (BUTTONS_BY_STATUS[status] if status is not None else ("feedback",)) if reply_id else ()
    if not actions or reply_id is None:
        return None
    view = discord.ui.View(timeout=None)
    for action in actions:
        view.add_item(ReplyButton(action, reply_id))
    return view


class Interactions:
    """Slash commands and answer buttons → the core's escalation and feedback."""

    def __init__(self, app: App, *, defer_after_s: float) -> None:
        self._app = app
        self._defer_after = defer_after_s

    async def escalate(self, interaction: Interaction, reason: str) -> None:
        async def work() -> str:
            key = await self._conversation_of(interaction, latest_of_user=True)
            outcome = await self._app.escalations.escalate(
                key, user_id=str(interaction.user.id), reason=reason, trigger="command"
            )
            return outcome.message

        await self._respond(interaction, work())

    async def resolve(self, interaction: Interaction) -> None:
        """/resolve (staff): in a handoff card's thread, the conversation the card is about."""

        async def work() -> str:
            key = await self._card_conversation(interaction) or await self._conversation_of(
                interaction, latest_of_user=False
            )
            return await _as_staff(interaction, self._app.escalations.resolve, key)

        await self._respond(interaction, work())

    async def staff_button(self, interaction: Interaction, action: str, escalation_id: int) -> None:
        """Claim or Resolve on a handoff card; the core refuses anyone who isn't staff."""

        async def work() -> str:
            escalations = self._app.escalations
            key = await escalations.key_of(escalation_id)
            act = escalations.claim if action == "claim" else escalations.resolve
            return await _as_staff(interaction, act, key)

        await self._respond(interaction, work())

    async def rate(self, interaction: Interaction, escalation_id: int, score: int) -> None:
        async def work() -> str:
            return await self._app.handoff.rate(escalation_id, score)

        await self._respond(interaction, work())

    async def help(self, interaction: Interaction) -> None:
        async def work() -> str:
            return HELP

        await self._respond(interaction, work())

    async def button(self, interaction: Interaction, action: str, reply_id: int) -> None:
        async def work() -> str:
            if action in ("up", "down"):
                await self._app.store.record_feedback(
                    reply_id, str(interaction.user.id), 1 if action == "up" else -1
                )
                return "Thanks for the feedback!" if action == "up" else DOWNVOTED
            conv = await self._app.store.conversation_of_message(reply_id)
            if conv is None:
                return "I can't find that conversation any more. Use /escalate to reach a person."
            outcome = await self._app.escalations.escalate(
                conv.key,
                user_id=str(interaction.user.id),
                reason="the answer didn't help" if action == "feedback" else "",
                trigger="feedback" if action == "feedback" else "button",
            )
            return outcome.message

        # A 👎 comes with an offer of a person, as its own button.
        view = reply_view(reply_id, None) if action == "down" else None
        await self._respond(interaction, work(), view=view)

    async def _card_conversation(self, interaction: Interaction) -> ThreadKey | None:
        """The conversation whose handoff card heads the thread this interaction came from, if any."""
        staff = self._app.config.settings.escalation.staff_channel
        if staff.platform != PLATFORM or interaction.channel_id is None:
            return None
        found = await self._app.store.escalation_by_staff_thread(
            PLATFORM, staff.channel, str(interaction.channel_id)
        )
        return found[1] if found is not None else None

    async def _conversation_of(self, interaction: Interaction, *, latest_of_user: bool) -> ThreadKey:
        """The conversation an interaction is about: its thread or DM, else (in a server channel) the
        user's latest conversation there, else the channel itself."""
        guild = str(interaction.guild_id) if interaction.guild_id else ""
        channel = interaction.channel
        if isinstance(channel, discord.Thread):
            return ThreadKey(PLATFORM, guild, str(channel.parent_id), str(channel.id))
        channel_id = str(interaction.channel_id)
        if guild and latest_of_user:
            latest = await self._app.store.latest_conversation_of_user(
                PLATFORM, guild, channel_id, str(interaction.user.id)
            )
            if latest is not None:
                return latest.key
        return ThreadKey(PLATFORM, guild, channel_id, channel_id)

    async def _respond(
        self,
        interaction: Interaction,
        work: Coroutine[Any, Any, str],
        view: discord.ui.View | None = None,
    ) -> None:
        """Answer with the work's text (ephemeral); defer first if it isn't done in time."""
        task = asyncio.ensure_future(_user_text(work))
        done, _ = await asyncio.wait({task}, timeout=self._defer_after)
        extra: dict[str, Any] = {"view": view} if view is not None else {}
        try:
            if task in done:
                await interaction.response.send_message(task.result(), ephemeral=True, **extra)
                return
            await interaction.response.defer(ephemeral=True, thinking=True)
            await interaction.followup.send(await task, ephemeral=True, **extra)
        except discord.HTTPException as exc:
            log.warning("Discord: could not answer interaction %s: %s", interaction.id, exc)


async def _user_text(work: Awaitable[str]) -> str:
    """The work's text, or what to tell the user when it failed."""
    try:
        return await work
    except EscalationError as exc:
        return str(exc)
    except Exception:
        log.exception("Discord interaction failed")
        return SORRY


async def _as_staff(interaction: Interaction, act: Callable[..., Awaitable[Outcome]], key: ThreadKey) -> str:
    """Claim or resolve as the person who pressed (the core checks they are staff)."""
    outcome = await act(
        key,
        staff_id=str(interaction.user.id),
        role_ids=_role_ids(interaction),
        staff_name=interaction.user.display_name,
    )
    return outcome.message


def _role_ids(interaction: Interaction) -> tuple[str, ...]:
    user = interaction.user
    return tuple(str(role.id) for role in user.roles) if isinstance(user, discord.Member) else ()


def build_tree(
    client: discord.Client, interactions: Interactions
) -> app_commands.CommandTree[discord.Client]:
    """The slash commands: /escalate [reason], /resolve, /help."""
    tree: app_commands.CommandTree[discord.Client] = app_commands.CommandTree(client)

    @tree.command(name="escalate", description="Ask for a person from the support team to take over")
    @app_commands.describe(reason="What you need help with (optional)")
    async def escalate(interaction: Interaction, reason: str | None = None) -> None:
        await interactions.escalate(interaction, reason or "")

    @tree.command(name="resolve", description="Staff: hand this conversation back to the bot")
    async def resolve(interaction: Interaction) -> None:
        await interactions.resolve(interaction)

    @tree.command(name="help", description="What this bot can do and how to reach a person")
    async def help_(interaction: Interaction) -> None:
        await interactions.help(interaction)

    return tree


MessageHandler = Callable[[discord.Message], Awaitable[None]]


class SupportClient(discord.Client):
    """discord.Client that hands messages to the adapter and owns the command tree and buttons."""

    def __init__(
        self,
        *,
        intents: discord.Intents,
        interactions: Interactions,
        on_message: MessageHandler,
        guild_ready_timeout: float,
    ) -> None:
        super().__init__(
            intents=intents,
            guild_ready_timeout=guild_ready_timeout,
            # Model output must never ping @everyone, roles or users; a reply may notify its author.
            allowed_mentions=discord.AllowedMentions(
                everyone=False, users=False, roles=False, replied_user=True
            ),
        )
        self.interactions = interactions
        self._handle_message = on_message
        self.tree = build_tree(self, interactions)

    async def setup_hook(self) -> None:
        self.add_dynamic_items(ReplyButton)

    async def on_message(self, message: discord.Message) -> None:
        await self._handle_message(message)
