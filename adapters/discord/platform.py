"""Discord's entry in the platform registry: when to start it, the adapter to build, the invite link.

Importing this module loads no Discord library; `build` and `invite` do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from bot.platforms import LiveCheck, PlatformAdapter, PlatformPlan, RunOptions, given
from bot.settings import LoadedConfig

if TYPE_CHECKING:
    from bot.service import SupportService


class DiscordPlatform:
    name = "discord"

    def plan(self, config: LoadedConfig, options: RunOptions) -> PlatformPlan:
        token = given(config.secrets.discord_bot_token)
        if not options.wants(self.name) and (options.requested or not token):
            return PlatformPlan(None)
        if not token:
            return PlatformPlan(None, ("Discord: DISCORD_BOT_TOKEN is not set",))
        return PlatformPlan("gateway")

    def build(
        self,
        service: SupportService,
        config: LoadedConfig,
        mode: str,
        options: RunOptions,
        on_lost: Callable[[str], None],
    ) -> PlatformAdapter:
        from adapters.discord.adapter import DiscordAdapter

        return DiscordAdapter(service, config, on_lost=on_lost)

    async def check_live(self, config: LoadedConfig) -> list[LiveCheck]:
        if not given(config.secrets.discord_bot_token):
            return []
        from adapters.discord.live import check_token

        return await check_token(config)

    def invite(self, config: LoadedConfig, client_id: str | None) -> int:
        from adapters.discord.invite import invite_command

        return invite_command(client_id, config.secrets.discord_bot_token)


PLATFORM = DiscordPlatform()
