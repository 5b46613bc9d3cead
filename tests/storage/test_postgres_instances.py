"""Several instances on one Postgres database, each a `PostgresStore` of its own (as each process
has): one answers a conversation at a time and in stored order, one leads the background jobs and
another takes over when it is gone, and what a gone instance left unanswered is found for the sweep.
Closing a store drops its connections, as a process killed outright does."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.conversation.fallback import BUDGET
from bot.conversation.spending import Hold, Spending
from bot.events import IncomingMessage, ThreadKey, Usage
from bot.settings import LLMSettings, Settings
from bot.storage.postgres import PostgresStore
from bot.storage.postgres.locks import LEADER, USER, advisory_key
from bot.storage.store import MessageStatus, Role, SpendHold, SpendLedger, Spent, StoredMessage
from tests.helpers import until
from tests.postgres import fresh_database

KEY = ThreadKey("slack", "T1", "C1", "100.1")


@pytest.fixture
async def pair() -> AsyncIterator[tuple[PostgresStore, PostgresStore]]:
    async with fresh_database() as url:
        first, second = PostgresStore(url), PostgresStore(url)
        await first.open()
        await second.open()
        try:
            yield first, second
        finally:
            await first.close()
            await second.close()


async def _inbound(store: PostgresStore, message_id: str, key: ThreadKey = KEY) -> StoredMessage:
    msg = IncomingMessage(key, message_id, "U1", "Ada", f"question {message_id}", False, datetime.now(UTC))
    stored = await store.record_inbound(msg, 1)
    assert stored is not None
    return stored


async def test_a_delivery_seen_by_one_instance_is_a_duplicate_on_the_other(
    pair: tuple[PostgresStore, PostgresStore],
) -> None:
    first, second = pair
    await _inbound(first, "ev1")
    retry = IncomingMessage(KEY, "ev1", "U1", "Ada", "question ev1", False, datetime.now(UTC))
    assert await second.record_inbound(retry, 1) is None


async def test_one_instance_at_a_time_holds_a_conversation(pair: tuple[PostgresStore, PostgresStore]) -> None:
    first, second = pair
    seen: list[str] = []
    entered = asyncio.Event()

    async def hold(store: PostgresStore, name: str) -> None:
        async with store.hold_thread(KEY):
            seen.append(f"{name} in")
            entered.set()
            await asyncio.sleep(0.2)
            seen.append(f"{name} out")

    holding = asyncio.create_task(hold(first, "first"))
    await entered.wait()
    await hold(second, "second")
    await holding
    assert seen == ["first in", "first out", "second in", "second out"]
    async with second.hold_thread(ThreadKey("slack", "T1", "C1", "other")), first.hold_thread(KEY):
        pass  # another conversation's lock is another lock


async def test_an_older_message_on_another_instance_is_answered_first(
    pair: tuple[PostgresStore, PostgresStore],
) -> None:
    first, second = pair
    older = await _inbound(first, "m1")  # reached the first instance
    await _inbound(second, "m2")  # the next one reached the second
    answered: list[str] = []

    async def answer_m2() -> None:
        async with second.hold_thread(KEY):
            answered.append("m2")

    later = asyncio.create_task(answer_m2())  # asks first, yet must wait for m1
    await asyncio.sleep(0.2)
    async with first.hold_thread(KEY):
        answered.append("m1")
        await first.record_reply(older, Role.ASSISTANT, "a1", 1, None, settles=MessageStatus.ANSWERED)
    await later
    assert answered == ["m1", "m2"]


async def test_one_instance_leads_a_job_and_another_takes_over_when_it_is_gone(
    pair: tuple[PostgresStore, PostgresStore],
) -> None:
    first, second = pair
    async with first.leadership("jobs") as leads:
        assert leads
        async with second.leadership("jobs") as also:
            assert not also
        async with second.leadership("other job") as other:
            assert other
        await first.close()  # its connections drop, as when the process is killed
        # The server lets go of a dropped connection's locks as soon as it sees it closed.
        assert await until(lambda: _leads(second, "jobs"), "the second instance to take over")


async def test_several_jobs_are_held_together_or_not_at_all(
    pair: tuple[PostgresStore, PostgresStore],
) -> None:
    first, second = pair
    async with first.leadership("shard 1", "shard 2") as both:
        assert both
        async with second.leadership("shard 2", "shard 3") as overlapping:
            assert not overlapping
        assert await _leads(first, "shard 3")  # the failed attempt let go of what it had taken
        assert not await _leads(second, "shard 1")
    assert await _leads(second, "shard 1") and await _leads(second, "shard 2")


async def test_a_leader_whose_connection_drops_learns_it_lost_the_jobs(
    pair: tuple[PostgresStore, PostgresStore],
) -> None:
    """The server drops the lock with its connection (here terminated, as a restart or a failover
    does) while the process lives on: the Lead is lost within seconds, so it stops the jobs."""
    first, second = pair
    key = advisory_key(LEADER + "jobs")
    async with first.leadership("jobs") as lead:
        assert lead and not lead.lost.is_set()
        pid = await second.pool.fetchval(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND classid::bigint = $1 AND objid::bigint = $2",
            (key >> 32) & 0xFFFFFFFF,
            key & 0xFFFFFFFF,
        )
        assert pid is not None
        await second.pool.fetchval("SELECT pg_terminate_backend($1)", pid)
        assert await _leads(second, "jobs")  # the other instance may take them at once
        await asyncio.wait_for(lead.lost.wait(), 10)
    assert await _leads(first, "other job")  # the store goes on working


async def _leads(store: PostgresStore, job: str) -> bool:
    async with store.leadership(job) as leads:
        return bool(leads)


async def test_the_sweep_finds_only_what_a_gone_instance_left(
    pair: tuple[PostgresStore, PostgresStore],
) -> None:
    first, second = pair
    since, later = datetime.now(UTC) - timedelta(minutes=1), datetime.now(UTC) + timedelta(minutes=1)
    left = await _inbound(first, "m1")
    await _inbound(second, "m2", ThreadKey("slack", "T1", "C1", "200.2"))
    assert await second.abandoned(since, later) == []  # the first still runs; the second's own is live
    await first.close()
    found = await until(lambda: second.abandoned(since, later), "the gone instance's message")
    assert [(m.id, key) for m, key in found] == [(left.id, KEY)]


async def test_todays_spend_counts_what_the_other_instance_spent(
    pair: tuple[PostgresStore, PostgresStore],
) -> None:
    first, second = pair
    settings = Settings(llm=LLMSettings(model="gpt-4o", daily_budget_usd=1.0))
    spending = Spending(second, settings, lambda: datetime.now(UTC).date())
    hold = await spending.reserve(("slack", "U2"), 10, 10)
    assert isinstance(hold, Hold)  # nothing spent yet
    await spending.settle(hold, None)
    asked = await _inbound(first, "m1")
    await first.record_reply(
        asked, Role.ASSISTANT, "dear", 1, Usage("gpt-4o", 10, 10, 1.5), settles=MessageStatus.ANSWERED
    )
    assert await spending.reserve(("slack", "U2"), 10, 10) == BUDGET  # the first instance's answer counts


async def test_two_instances_at_once_cannot_both_take_the_last_room_under_the_budget(
    pair: tuple[PostgresStore, PostgresStore],
) -> None:
    first, second = pair
    # gpt-4o's worst case for a 1,000-token prompt and a 4,000-token answer is $0.0425: with $0.06
    # left, one call fits and two don't. Each instance counting in memory would let one through each.
    settings = Settings(llm=LLMSettings(model="gpt-4o", daily_budget_usd=0.06, max_tokens=4000))
    today = lambda: datetime.now(UTC).date()  # noqa: E731
    spendings = [Spending(store, settings, today) for store in (first, second)]
    started = await _inbound(first, "m0")  # one call under way first, so the rest must all fit
    assert isinstance(await spendings[0].reserve(("slack", "U0"), 10, 10), Hold)
    await first.record_reply(started, Role.ASSISTANT, "hi", 1, None, settles=MessageStatus.ANSWERED)
    results = await asyncio.gather(
        *(spendings[n % 2].reserve(("slack", f"U{n + 1}"), 1000, 4000) for n in range(6))
    )
    assert sum(isinstance(r, Hold) for r in results) == 1, results
    assert results.count(BUDGET) == 5


async def test_a_hold_left_by_a_gone_instance_lapses_with_its_lease(
    pair: tuple[PostgresStore, PostgresStore],
) -> None:
    first, second = pair
    since = datetime.now(UTC) - timedelta(seconds=1)
    hold = SpendHold(("slack", "U1"), Spent(5.0, 10), since, timedelta(seconds=0.5))
    assert isinstance(await first.hold_spend(hold, lambda everyone, mine: None), int)
    await first.close()  # gone without releasing it
    counted: list[int] = []

    def room(everyone: SpendLedger, mine: SpendLedger) -> str | None:
        counted.append(everyone.holds)
        return "look only"

    await second.hold_spend(replace(hold, user=("slack", "U2")), room)
    await asyncio.sleep(0.6)
    await second.hold_spend(replace(hold, user=("slack", "U2")), room)
    assert counted == [1, 0]


async def test_a_users_messages_are_stored_one_at_a_time_across_instances(
    pair: tuple[PostgresStore, PostgresStore],
) -> None:
    """So ids follow commit order and a rate check never misses an earlier message still being
    committed on another instance (which let one extra message through at the window's edge)."""
    first, second = pair
    async with first.pool.acquire() as conn, conn.transaction():
        # Another instance is in the middle of storing one of U1's messages.
        await conn.execute("SELECT pg_advisory_xact_lock($1)", advisory_key(USER + "slack:U1"))
        waiting = asyncio.ensure_future(_inbound(second, "m1"))
        other_user = IncomingMessage(KEY, "m2", "U2", "Bo", "hello", False, datetime.now(UTC))
        assert await second.record_inbound(other_user, 1) is not None  # another user's isn't held up
        await asyncio.sleep(0.2)
        assert not waiting.done()
    stored = await asyncio.wait_for(waiting, 5)
    assert stored.id > 0
