"""Display names via users.info, cached, so the model and staff see who is speaking."""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.api import describe

log = logging.getLogger(__name__)


class NameCache:
    """user id → display name; at most `size` entries, each trusted for `ttl_s` seconds."""

    def __init__(
        self,
        client: AsyncWebClient,
        *,
        size: int = 5_000,
        ttl_s: float = 3_600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._size = size
        self._ttl_s = ttl_s
        self._clock = clock
        self._names: OrderedDict[str, tuple[float, str]] = OrderedDict()

    def cached(self, user_id: str) -> str | None:
        """The name if it is known and fresh, without asking Slack (for storing before the ack)."""
        hit = self._names.get(user_id)
        return hit[1] if hit is not None and self._clock() - hit[0] < self._ttl_s else None

    async def get(self, user_id: str) -> str:
        """The user's display name (else real name, else handle); the id itself if Slack won't say."""
        hit = self._names.get(user_id)
        if hit is not None and self._clock() - hit[0] < self._ttl_s:
            self._names.move_to_end(user_id)
            return hit[1]
        try:
            resp = await self._client.users_info(user=user_id)
        except SlackApiError as exc:
            log.warning("%s", describe("users.info", exc))
            return user_id
        user = resp.get("user") or {}
        profile = user.get("profile") or {}
        name = str(profile.get("display_name") or profile.get("real_name") or user.get("name") or user_id)
        self._names[user_id] = (self._clock(), name)
        self._names.move_to_end(user_id)
        if len(self._names) > self._size:
            self._names.popitem(last=False)
        return name
