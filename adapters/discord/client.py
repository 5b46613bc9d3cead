"""The discord.py client, its slash commands and the buttons on answers, translated into core calls.

Buttons are DynamicItems: their custom_id carries the reply id, so they work after a restart without
keeping a view per message in memory. Every interaction is answered, or deferred, within 3 seconds.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sys
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import discord
from discord import app_commands

from adapters.discord.buckets import pace_bucket_sweeps
from adapters.discord.payloads import QuietLog, interaction_problem
from bot.events import ReplyStatus
from bot.handoff.states import Trigger
from bot.ids import ID_PATTERN, parse_id
from bot.service import SORRY, Person, Place, SupportService

log = logging.getLogger(__name__)

PLATFORM = "discord"
# action -> (label, emoji, style)
BUTTONS: dict[str, tuple[str | None, str | None, discord.ButtonStyle]] = {
    "up": (None, "👍", discord.ButtonStyle.secondary),
    "down": (None, "👎", discord.ButtonStyle.secondary),
    "solved": ("That solved it", None, discord.ButtonStyle.success),  # a confirmed resolution
    "human": ("Talk to a human", None, discord.ButtonStyle.primary),
    "feedback": ("Talk to a human", None, discord.ButtonStyle.primary),  # offered after a 👎
}
BUTTONS_BY_STATUS: dict[ReplyStatus, tuple[str, ...]] = {
    ReplyStatus.ANSWERED: ("up", "down", "solved", "human"),
    ReplyStatus.FAILED: ("human",),
    ReplyStatus.REFUSED: ("human",),
    ReplyStatus.ESCALATED: (),
}

Interaction = discord.Interaction[discord.Client]
Said = str | tuple[str, discord.ui.View | None]  # what an interaction is answered with
UNREADABLE = "Sorry, I couldn't read that command. /help lists what I can do."


class ReplyButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=rf"supportbot:(?P<action>up|down|solved|human|feedback):(?P<reply>{ID_PATTERN})",
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
    """Slash commands and answer buttons → one core call each; the answer is the core's text."""

    def __init__(self, service: SupportService, *, defer_after_s: float) -> None:
        self._service = service
        self._defer_after = defer_after_s
        self.quiet = QuietLog()  # the adapter's lines about bad input, rate-limited

    async def escalate(self, interaction: Interaction, reason: str) -> None:
        work = self._service.escalate_command(_place(interaction), _person(interaction), reason)
        await self._respond(interaction, work)

    async def resolve(self, interaction: Interaction) -> None:
        """/resolve (staff): in a handoff card's thread, the conversation the card is about."""
        await self._respond(
            interaction, self._service.resolve_command(_place(interaction), _person(interaction))
        )

    async def staff_button(self, interaction: Interaction, action: str, escalation_id: int) -> None:
        """Claim or Resolve on a handoff card; the core refuses anyone who isn't staff."""
        await self._respond(
            interaction, self._service.staff_action(escalation_id, action, _person(interaction))
        )

    async def rate(self, interaction: Interaction, escalation_id: int, score: int) -> None:
        said = self._service.rate(escalation_id, score, _person(interaction), _place(interaction))
        await self._respond(interaction, said)

    async def help(self, interaction: Interaction) -> None:
        async def work() -> str:
            return self._service.help_text()

        await self._respond(interaction, work())

    async def learned(
        self, interaction: Interaction, action: str, entry_id: int, answer: str | None = None
    ) -> None:
        """Save (with the answer as edited, from the Edit modal) or Discard under a proposed help
        entry; the core refuses anyone who isn't staff."""
        said = self._service.learned_action(entry_id, action, _person(interaction), answer=answer)
        await self._respond(interaction, said)

    async def learned_draft(self, interaction: Interaction, entry_id: int) -> str | None:
        """The answer of a proposed entry for the Edit modal; None (and the presser told why) when
        they aren't staff or it was decided already."""
        draft, why = await self._service.learned_draft(entry_id, _person(interaction))
        if draft is None:
            await self._respond(interaction, _said(why))
        return draft

    async def button(self, interaction: Interaction, action: str, reply_id: int) -> None:
        person = _person(interaction)
        if action == "solved":
            await self._respond(interaction, self._service.solved(reply_id, person, _place(interaction)))
            return
        if action not in ("up", "down"):
            trigger = Trigger.FEEDBACK if action == "feedback" else Trigger.BUTTON
            handed = self._service.escalate_reply(reply_id, person, trigger, _place(interaction))
            await self._respond(interaction, handed)
            return

        async def vote() -> Said:
            said = await self._service.feedback(
                reply_id, person, helpful=action == "up", place=_place(interaction)
            )
            return said.text, reply_view(reply_id, None) if said.offer_human else None  # the offer's button

        await self._respond(interaction, vote())

    async def _respond(self, interaction: Interaction, work: Coroutine[Any, Any, Said]) -> None:
        """Answer with the work's text (ephemeral; with its buttons, if any); defer first if it isn't
        done in time."""
        task = asyncio.ensure_future(_user_text(work))
        done, _ = await asyncio.wait({task}, timeout=self._defer_after)
        try:
            if task in done:
                text, view = task.result()
                await interaction.response.send_message(text, ephemeral=True, **_with(view))
                return
            await interaction.response.defer(ephemeral=True, thinking=True)
            text, view = await task
            await interaction.followup.send(text, ephemeral=True, **_with(view))
        except Exception as exc:  # Discord refused it (or the interaction's token is unusable)
            self.quiet.warning(
                "answer", "Discord: could not answer interaction %s: %s", interaction.id, one_line(exc)
            )

    async def unreadable(self, interaction: Interaction, error: app_commands.AppCommandError) -> None:
        """A command discord.py could not match or convert (unknown name, options of the wrong type):
        one line in the log, and the user is told so privately."""
        name = interaction.data.get("name") if isinstance(interaction.data, dict) else None
        self.quiet.warning("command", "Discord: could not run command %r: %s", name, one_line(error))
        if interaction.response.is_done():
            return

        async def say() -> str:
            return UNREADABLE

        await self._respond(interaction, say())


async def _said(text: str) -> Said:
    return text


def _with(view: discord.ui.View | None) -> dict[str, Any]:
    return {"view": view} if view is not None else {}


async def _user_text(work: Awaitable[Said]) -> tuple[str, discord.ui.View | None]:
    """The work's text (and buttons), or what to tell the user when it failed."""
    try:
        said = await work
    except Exception:
        log.exception("Discord interaction failed")
        return SORRY, None
    return (said, None) if isinstance(said, str) else said


def _person(interaction: Interaction) -> Person:
    """Who pressed or typed: their id, name and (in a server) role ids, which may make them staff."""
    user = interaction.user
    roles = tuple(str(role.id) for role in user.roles) if isinstance(user, discord.Member) else ()
    return Person(str(user.id), user.display_name, roles)


def _place(interaction: Interaction) -> Place:
    """Where a slash command was used: a thread is a conversation (or a handoff card's thread)."""
    guild = str(interaction.guild_id) if interaction.guild_id else ""
    channel = interaction.channel
    if isinstance(channel, discord.Thread):
        return Place(PLATFORM, guild, str(channel.parent_id), str(channel.id))
    return Place(PLATFORM, guild, str(interaction.channel_id), None, is_dm=not guild)


class SupportTree(app_commands.CommandTree[discord.Client]):
    """The command tree, answering a command it can't run instead of logging a traceback."""

    def __init__(self, client: discord.Client, interactions: Interactions) -> None:
        super().__init__(client)
        self._interactions = interactions

    async def on_error(self, interaction: Interaction, error: app_commands.AppCommandError, /) -> None:
        await self._interactions.unreadable(interaction, error)


def build_tree(client: discord.Client, interactions: Interactions) -> SupportTree:
    """The slash commands: /escalate [reason], /resolve, /help."""
    tree = SupportTree(client, interactions)

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


def guard_parsers(parsers: dict[str, Callable[[Any], None]], quiet: QuietLog) -> None:
    """Make each of discord.py's gateway parsers skip a malformed dispatch with one (rate-limited) log
    line, and ignore an INTERACTION_CREATE of the wrong shape before discord.py sees it.

    discord.py runs the parser of every DISPATCH inside the gateway's read loop, outside any handler,
    so `on_error` never sees a parser's exception: a KeyError from a MESSAGE_CREATE without a channel_id
    ends `Client.connect()`, and with it the bot's whole Discord connection.
    """
    for event, parse in parsers.items():
        parsers[event] = _skipping(event, parse, quiet)


def _skipping(event: str, parse: Callable[[Any], None], quiet: QuietLog) -> Callable[[Any], None]:
    def parse_or_skip(data: Any) -> None:
        problem = interaction_problem(data) if event == "INTERACTION_CREATE" else None
        if problem is not None:
            quiet.warning(event, "Discord: ignored an interaction%s: %s", _id_of(data), problem)
            return
        try:
            parse(data)
        except Exception as exc:
            quiet.warning(
                event, "Discord: skipped a malformed %s dispatch%s: %s", event, _id_of(data), one_line(exc)
            )

    return parse_or_skip


def _id_of(data: Any) -> str:
    """The dispatch's id for the log, when it is one (hostile text stays out of the log)."""
    value = data.get("id") if isinstance(data, dict) else None
    return f" {value}" if isinstance(value, str) and parse_id(value) is not None else ""


def one_line(exc: BaseException | None, limit: int = 200) -> str:
    """`KeyError: 'author'`: the exception's type and message on one line, cut to `limit` characters."""
    if exc is None:
        return "unknown error"
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
        **shards: Any,
    ) -> None:
        super().__init__(
            intents=intents,
            guild_ready_timeout=guild_ready_timeout,
            **shards,
            # Model output must never ping @everyone, roles or users; a reply may notify its author.
            allowed_mentions=discord.AllowedMentions(
                everyone=False, users=False, roles=False, replied_user=True
            ),
        )
        self.interactions = interactions
        self._handle_message = on_message
        self.tree = build_tree(self, interactions)
        guard_parsers(self._connection.parsers, interactions.quiet)
        pace_bucket_sweeps(self.http)

    async def on_error(self, event_method: str, /, *args: Any, **kwargs: Any) -> None:
        """An event handler raised: one line (the traceback only with debug logging)."""
        log.error("Discord: %s failed: %s", event_method, one_line(sys.exc_info()[1]))
        log.debug("Discord: %s failed", event_method, exc_info=True)

    async def setup_hook(self) -> None:
        self.add_dynamic_items(ReplyButton)

    async def on_message(self, message: discord.Message) -> None:
        await self._handle_message(message)


class ShardedSupportClient(SupportClient, discord.AutoShardedClient):
    """The same over the shards this process runs (`shard_count`, `shard_ids` keywords)."""
