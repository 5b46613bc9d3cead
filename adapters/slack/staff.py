"""Who counts as staff on Slack: listed user ids, or members of the staff user group (cached)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.api import describe

log = logging.getLogger(__name__)


class StaffGroup:
    """Members of `escalation.staff_group_id` via usergroups.users.list, re-read every `ttl_s`."""

    def __init__(
        self,
        client: AsyncWebClient,
        group_id: str,
        *,
        ttl_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._group_id = group_id
        self._ttl_s = ttl_s
        self._clock = clock
        self._members: tuple[float, frozenset[str]] | None = None

    async def roles_of(self, user_id: str) -> tuple[str, ...]:
        """(group id,) when the user is in the staff group, else (); the core decides what it means."""
        if not self._group_id:
            return ()
        if self._members is None or self._clock() - self._members[0] >= self._ttl_s:
            try:
                resp = await self._client.usergroups_users_list(usergroup=self._group_id)
            except SlackApiError as exc:  # e.g. missing usergroups:read: fall back to listed ids
                log.warning("%s", describe("usergroups.users.list", exc))
                # Every message asks (staff speak as staff in their conversations): ask again only
                # after the TTL, so a missing scope is one warning per TTL, not one per message.
                self._members = (self._clock(), frozenset())
                return ()
            self._members = (self._clock(), frozenset(str(u) for u in resp.get("users") or ()))
        return (self._group_id,) if user_id in self._members[1] else ()
