"""`supportbot check --live` for Slack: auth.test (bot token), apps.connections.open (app token)."""

from __future__ import annotations

import aiohttp
from slack_sdk.errors import SlackApiError

from adapters.slack.api import api_url, describe, error_code, make_client
from bot.platforms import LiveCheck, given
from bot.settings import LoadedConfig


async def check_tokens(config: LoadedConfig) -> list[LiveCheck]:
    client = make_client(config)
    try:
        auth = await client.auth_test()
    except SlackApiError as exc:
        return [LiveCheck("slack auth.test", False, describe("auth.test", exc))]
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        problem = (
            f"cannot reach {api_url(config)} ({type(exc).__name__}); check SLACK_API_URL / slack.api_url"
        )
        return [LiveCheck("slack auth.test", False, problem)]
    checks = [
        LiveCheck("slack auth.test", True, f"the bot token is {auth.get('user')} in {auth.get('team')}")
    ]
    app_token = config.secrets.slack_app_token
    if app_token is not None and given(app_token):
        try:
            await client.apps_connections_open(app_token=app_token.get_secret_value())
        except SlackApiError as exc:
            fix = "set SLACK_APP_TOKEN to an app-level token (xapp-…) with connections:write"
            checks.append(LiveCheck("slack apps.connections.open", False, f"{error_code(exc)}: {fix}"))
        else:
            checks.append(LiveCheck("slack apps.connections.open", True, "the app token opens Socket Mode"))
    return checks
