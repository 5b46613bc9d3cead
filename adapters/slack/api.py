"""The Slack Web API client (base URL from settings, slack-sdk's retry handlers) and readable errors."""

from __future__ import annotations

import logging

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.settings import LoadedConfig

AUTH_ERRORS = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "token_revoked",
        "token_expired",
        "account_inactive",
        "not_allowed_token_type",
    }
)


def api_url(config: LoadedConfig) -> str:
    """The effective Web API base: env SLACK_API_URL, else slack.api_url; always ending in '/'."""
    url = config.secrets.slack_api_url or config.settings.slack.api_url
    return url if url.endswith("/") else url + "/"


CALL_TIMEOUT_S = 30  # slack-sdk's default for one Web API call


def web_session() -> aiohttp.ClientSession:
    """The connections every Web API call of a run shares (kept alive between calls; without one,
    slack-sdk opens and closes a session, and a TCP connection, per call). Close it when done."""
    return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=CALL_TIMEOUT_S))


def web_logger() -> logging.Logger:
    """slack-sdk's logger for our client, at INFO. slack-sdk formats each call's arguments and its
    response (the message text among them) into a DEBUG line whenever its logger's *own* level is
    unset (it checks `logger.level`, not the effective level): 2.5% of the bot's py-spy samples at
    20 answers at once, and every message's text in the log of a run at DEBUG."""
    logger = logging.getLogger("slack_sdk.web.supportbot")
    logger.setLevel(logging.INFO)
    return logger


def make_client(config: LoadedConfig, session: aiohttp.ClientSession | None = None) -> AsyncWebClient:
    """One AsyncWebClient for every call; 429s wait for Retry-After, dropped connections retry."""
    token = config.secrets.slack_bot_token
    if token is None:
        raise ValueError("SLACK_BOT_TOKEN is not set")
    return AsyncWebClient(
        token=token.get_secret_value(),
        base_url=api_url(config),
        session=session,
        timeout=CALL_TIMEOUT_S,
        logger=web_logger(),
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncRateLimitErrorRetryHandler(max_retry_count=3),
            AsyncServerErrorRetryHandler(max_retry_count=1),
        ],
    )


def error_code(exc: SlackApiError) -> str:
    """Slack's error code ("missing_scope", …), or the HTTP status when the body was not Slack's JSON."""
    data = exc.response.data
    code = data.get("error") if isinstance(data, dict) else None
    return str(code or f"http_{exc.response.status_code}")


def describe(method: str, exc: SlackApiError) -> str:
    """One log line naming what to fix: the token setting, the missing scope, or the channel."""
    code = error_code(exc)
    if code in AUTH_ERRORS:
        return (
            f"Slack {method} failed: {code}: SLACK_BOT_TOKEN was rejected; set a valid, installed bot"
            " token (xoxb-…) and restart"
        )
    if code == "missing_scope":
        data = exc.response.data
        needed = (data.get("needed") if isinstance(data, dict) else None) or "?"
        return (
            f"Slack {method} failed: missing_scope: add the bot scope '{needed}' (see"
            " config/slack-manifest.yaml) and reinstall the app to the workspace"
        )
    if code in {"not_in_channel", "channel_not_found"}:
        return f"Slack {method} failed: {code}: invite the bot to the channel (/invite @bot)"
    if code == "ratelimited":
        return f"Slack {method} failed: ratelimited even after retrying; slow down or raise edit_interval_s"
    return f"Slack {method} failed: {code}"
