"""`supportbot check --live` for Discord: GET /users/@me with the bot token, at the configured REST base."""

from __future__ import annotations

import aiohttp

from bot.platforms import LiveCheck
from bot.settings import LoadedConfig

TIMEOUT_S = 10.0


async def check_token(config: LoadedConfig) -> list[LiveCheck]:
    token = config.secrets.discord_bot_token
    assert token is not None
    base = (config.secrets.discord_api_url or config.settings.discord.api_url).rstrip("/")
    headers = {"Authorization": f"Bot {token.get_secret_value()}"}
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT_S)) as session,
            session.get(f"{base}/users/@me", headers=headers) as resp,
        ):
            status = resp.status
            me = await resp.json(content_type=None) if status == 200 else {}
    except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as exc:
        problem = f"cannot reach {base} ({type(exc).__name__}); check DISCORD_API_URL / discord.api_url"
        return [LiveCheck("discord users/@me", False, problem)]
    if status == 401:
        fix = "the bot token was refused: put a current one in DISCORD_BOT_TOKEN (Developer Portal → Bot)"
        return [LiveCheck("discord users/@me", False, fix)]
    if status != 200 or not isinstance(me, dict):
        return [LiveCheck("discord users/@me", False, f"HTTP {status} from {base}/users/@me")]
    return [LiveCheck("discord users/@me", True, f"the bot token is {me.get('username')} ({me.get('id')})")]
