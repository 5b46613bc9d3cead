"""Slack's entry in the platform registry: when to start it, in which mode, and the adapter to build.

Importing this module loads no Slack library; `build` does, so a Discord-only run never loads them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from bot.platforms import LiveCheck, PlatformAdapter, PlatformPlan, RunOptions, given
from bot.settings import LoadedConfig

if TYPE_CHECKING:
    from bot.service import SupportService


class SlackPlatform:
    name = "slack"

    def plan(self, config: LoadedConfig, options: RunOptions) -> PlatformPlan:
        """Socket Mode when SLACK_APP_TOKEN is set, else (or with --slack-http) the HTTP Events API."""
        env = config.secrets
        bot_token, app_token = given(env.slack_bot_token), given(env.slack_app_token)
        if not options.wants(self.name) and (options.requested or not bot_token):
            return PlatformPlan(None)
        if not bot_token:
            return PlatformPlan(None, ("Slack: SLACK_BOT_TOKEN is not set",))
        if options.requested.get(self.name) == "http" or not app_token:
            if not given(env.slack_signing_secret):
                return PlatformPlan("http", ("Slack HTTP mode: SLACK_SIGNING_SECRET is not set",))
            return PlatformPlan("http")
        return PlatformPlan("socket")

    def build(
        self,
        service: SupportService,
        config: LoadedConfig,
        mode: str,
        options: RunOptions,
        on_lost: Callable[[str], None],
    ) -> PlatformAdapter:
        from adapters.slack.adapter import SlackAdapter

        return SlackAdapter(service, config, mode=mode, host=options.host, port=options.port, ops=options.ops)

    async def check_live(self, config: LoadedConfig) -> list[LiveCheck]:
        if not given(config.secrets.slack_bot_token):
            return []
        from adapters.slack.live import check_tokens

        return await check_tokens(config)


PLATFORM = SlackPlatform()
