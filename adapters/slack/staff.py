"""Who counts as staff on Slack: listed user ids, or members of the staff user group (cached)."""

from __future__ import annotations

import asyncio
import contextlib
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
        self._rereading: asyncio.Task[None] | None = None

    async def roles_of(self, user_id: str) -> tuple[str, ...]:
        """(group id,) when the user is in the staff group, else (); the core decides what it means.
        Reads the group again when the list is older than `ttl_s` (a staff button wants it fresh)."""
        if not self._group_id:
            return ()
        if self._members is None or self._stale():
            await self._reread()
        return self._of(user_id)

    async def roles_now(self, user_id: str) -> tuple[str, ...]:
        """Like roles_of, but once the group has been read it never waits for Slack: an old list
        answers while a new one is read in the background. A message is stored before Slack is
        acked, and a Web API call there would hold the ack."""
        if not self._group_id:
            return ()
        if self._members is None:
            return await self.roles_of(user_id)
        if self._stale() and self._rereading is None:
            self._rereading = asyncio.create_task(self._reread())
            self._rereading.add_done_callback(self._reread_done)
        return self._of(user_id)

    async def close(self) -> None:
        if self._rereading is not None:
            self._rereading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._rereading

    def _stale(self) -> bool:
        return self._members is not None and self._clock() - self._members[0] >= self._ttl_s

    def _of(self, user_id: str) -> tuple[str, ...]:
        members = self._members[1] if self._members is not None else frozenset()
        return (self._group_id,) if user_id in members else ()

    def _reread_done(self, _: asyncio.Task[None]) -> None:
        self._rereading = None

    async def _reread(self) -> None:
        try:
            resp = await self._client.usergroups_users_list(usergroup=self._group_id)
        except SlackApiError as exc:  # e.g. missing usergroups:read: fall back to listed ids
            log.warning("%s", describe("usergroups.users.list", exc))
            # Every message asks (staff speak as staff in their conversations): ask again only
            # after the TTL, so a missing scope is one warning per TTL, not one per message.
            self._members = (self._clock(), frozenset())
            return
        self._members = (self._clock(), frozenset(str(u) for u in resp.get("users") or ()))
