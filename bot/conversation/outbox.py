"""The outbox: every stored reply ends delivered (once) or failed, also across crashes and restarts.

A reply is stored pending before the platform sees its final version. The live path marks it
delivered; a live delivery that failed, and any reply a stopped process left pending, is delivered
by `sweep` (on start and every `interval_s` while running) with backoff, editing the messages that
already show part of it (their ids are noted as each is posted) rather than posting a second answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta

from bot.events import ReplyDone, ReplyStatus, ThreadKey
from bot.handoff.ports import Delivery, PlatformPort
from bot.storage.store import ConversationStore, MessageStatus, Role, StoredMessage

log = logging.getLogger(__name__)

INTERVAL_S = 10.0  # how often pending replies are looked for while running
FIRST_RETRY_S = 5.0  # the wait after the first failed attempt; it doubles with each further one
MAX_RETRY_S = 300.0
MAX_ATTEMPTS = 6  # then the reply is failed for good (about ten minutes of trying)
LIVE_S = 120.0  # a reply in live delivery for longer than this is the sweep's again
YOUNG_S = 10.0  # a reply this process wrote less than this ago is left to its live delivery
EXPIRED = "expired: still pending past bot.recover_minutes"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
OTHERS_SCANNED = 100  # a conversation's latest messages whose answers a redelivery must leave alone

_STATUS = {MessageStatus.ANSWERED: ReplyStatus.ANSWERED, MessageStatus.HANDED_OVER: ReplyStatus.ESCALATED}


def retry_delay(attempts: int) -> float:
    """Seconds to wait after the `attempts`-th failed attempt (1, 2, …)."""
    return float(min(MAX_RETRY_S, FIRST_RETRY_S * 2 ** (attempts - 1)))


class Outbox:
    """Delivers replies through the platform ports; one per app (bot/app.py)."""

    def __init__(
        self,
        store: ConversationStore,
        ports: Callable[[str], PlatformPort | None],
        *,
        turn: Callable[[ThreadKey], AbstractAsyncContextManager[None]] | None = None,
        interval_s: float = INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`turn(key)`: the conversation's turn (the manager's), held while a reply is delivered
        outside the live path, so the thread's other answers are noted before it looks for leftovers."""
        self._store = store
        self._ports = ports
        self._turn = turn
        self._interval_s = interval_s
        self._clock = clock
        self._live: dict[int, float] = {}  # reply id → when the adapter began delivering it
        self._born = datetime.now(UTC)  # replies pending from before this were left by a stop

    # -- the live path -----------------------------------------------------------------------------

    def live(self, reply_id: int) -> None:
        """The receiving adapter is delivering this reply now: the sweep leaves it alone."""
        self._live[reply_id] = self._clock()

    async def shown(self, inbound_id: int, platform_ids: list[str]) -> None:
        await self._store.note_shown(inbound_id, platform_ids)

    async def delivered(self, reply_id: int, platform_message_id: str | None) -> None:
        # Marked live until the store says delivered: a sweep in between must not deliver it again.
        await self._store.mark_delivered(reply_id, platform_message_id)
        self._live.pop(reply_id, None)

    async def failed(self, reply_id: int, error: str, attempts: int = 0, where: str = "") -> None:
        """A delivery attempt failed: try again later, or, after MAX_ATTEMPTS, give up in one line."""
        attempts += 1
        if attempts >= MAX_ATTEMPTS:
            log.error("reply %s%s was not delivered after %d attempts: %s", reply_id, where, attempts, error)
            await self._store.set_status(reply_id, MessageStatus.FAILED, error)
        else:
            delay = retry_delay(attempts)
            log.info("reply %s%s not delivered (%s); trying again in %.0f s", reply_id, where, error, delay)
            await self._store.retry_later(reply_id, error, datetime.now(UTC) + timedelta(seconds=delay))
        self._live.pop(reply_id, None)

    # -- delivering outside the live path ----------------------------------------------------------

    async def deliver(
        self, key: ThreadKey, done: ReplyDone, inbound: StoredMessage, attempts: int = 0
    ) -> bool:
        """One attempt to deliver a stored reply (`done.reply_id`), finishing or replacing what is
        already shown of it; True once the platform has it."""
        assert done.reply_id is not None
        port = self._ports(key.platform)
        if port is None:
            return False  # that platform isn't running in this process: it stays pending

        async def note(ids: list[str]) -> None:
            await self._store.note_shown(inbound.id, ids)

        try:
            async with self._turn(key) if self._turn is not None else contextlib.nullcontext():
                others, after, pending = await self._around(inbound, done.reply_id)
                if not pending:  # delivered (or given up) while this waited for the turn
                    log.info("reply %s was delivered meanwhile: not sent again", done.reply_id)
                    return False
                delivery = Delivery(inbound.platform_message_id or "", inbound.shown_as, note, others, after)
                posted = await port.send_answer(key, done, delivery)
        except Exception as exc:  # the platform's own errors: retried with backoff, then failed
            error = f"{type(exc).__name__}: {exc}"[:300]
            await self.failed(done.reply_id, error, attempts, f" ({key.platform} message {inbound.id})")
            return False
        await self.delivered(done.reply_id, posted)
        return True

    async def _around(self, inbound: StoredMessage, reply_id: int) -> tuple[frozenset[str], str | None, bool]:
        """The platform ids of the other answers in the conversation's latest messages, of the first
        user message after `inbound` (None if there is none), and whether the reply is still pending
        (taken as True for a reply older than those messages, which is delivered as before)."""
        ids: set[str] = set()
        later: list[StoredMessage] = []
        pending = True
        for m in await self._store.messages(inbound.conversation_id, OTHERS_SCANNED):
            if m.id == reply_id:
                pending = m.status is MessageStatus.PENDING
            elif m.id != inbound.id:
                ids.update(m.shown_as)
                if m.platform_message_id:
                    ids.add(m.platform_message_id)
                if m.role is Role.USER and m.id > inbound.id and m.platform_message_id:
                    later.append(m)
        first_later = min(later, key=lambda m: m.id).platform_message_id if later else None
        return frozenset(ids), first_later, pending

    async def sweep(self, since: datetime, *, expire: bool = False) -> int:
        """Deliver the pending replies created since `since` that are due and not being delivered
        live (with `expire`, first give up on those from before it); returns how many were delivered."""
        now = self._clock()
        self._live = {r: at for r, at in self._live.items() if now - at < LIVE_S}
        live = set(self._live)  # before reading: one delivered meanwhile is no longer pending
        young = datetime.now(UTC) - timedelta(seconds=YOUNG_S)
        delivered = 0
        # One read: with `expire` it also holds the replies from before `since`, given up here.
        pending = await self._store.undelivered(EPOCH if expire else since, datetime.now(UTC))
        await self._expire(
            [o.reply.id for o in pending if o.reply.created_at < since and o.reply.id not in live]
        )
        for out in pending:
            reply = out.reply
            if reply.created_at < since or reply.id in live or reply.id in self._live:
                continue
            if out.attempts == 0 and reply.created_at >= max(self._born, young):
                continue  # just written by this process: its live delivery is only starting
            status = _STATUS.get(out.inbound.status, ReplyStatus.FAILED)
            done = ReplyDone(reply.text, status, reply.id)
            delivered += await self.deliver(out.key, done, out.inbound, out.attempts)
        if delivered:
            log.warning("delivered %d reply(s) left pending", delivered)
        return delivered

    async def _expire(self, stale: list[int]) -> None:
        """Give up, in one line, on replies still pending from before the start-up sweep's
        bot.recover_minutes: the conversation has moved on, and none stays pending forever."""
        for reply_id in stale:
            await self._store.set_status(reply_id, MessageStatus.FAILED, EXPIRED)
            self._live.pop(reply_id, None)
        if stale:
            log.error(
                "%d reply(s) pending since before bot.recover_minutes were not delivered (given up: %s)",
                len(stale),
                ", ".join(str(r) for r in stale[:10]) + (" …" if len(stale) > 10 else ""),
            )

    async def run(self, stop: asyncio.Event, recover_minutes: int) -> None:
        """Sweep every `interval_s` until `stop` is set (the first sweep at once)."""
        while not stop.is_set():
            since = datetime.now(UTC) - timedelta(minutes=recover_minutes)
            try:
                await self.sweep(since, expire=recover_minutes > 0)
            except Exception as exc:  # e.g. the database briefly locked: the next round tries again
                log.warning("the outbox sweep failed: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._interval_s)
