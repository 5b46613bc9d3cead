"""discord.py's rate-limit bucket sweep, paced: the real HTTPClient, past its 256 buckets, walks all
of them at most once a minute instead of on every new bucket (a new DM channel makes one or two)."""

from __future__ import annotations

import asyncio

import discord

from adapters.discord.buckets import SWEEP_EVERY_S, pace_bucket_sweeps
from tests.adapters.discord.test_guards import adapter_on
from tests.conftest import ConfigFactory
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_past_256_buckets_the_sweep_runs_once_a_minute_not_per_new_bucket() -> None:
    http = discord.http.HTTPClient(asyncio.get_running_loop())
    sweeps: list[int] = []
    sweep = http._try_clear_expired_ratelimits

    def counted() -> None:  # discord.py's own sweep, counted
        sweeps.append(len(http._buckets))
        sweep()

    http._try_clear_expired_ratelimits = counted  # type: ignore[method-assign]
    clock = Clock()
    assert pace_bucket_sweeps(http, clock=clock)
    for n in range(2000):  # 2,000 DM channels within a minute
        http.get_ratelimit(f"POST /channels/{{channel_id}}/messages:{n}")
    assert len(sweeps) == 1 and len(http._buckets) == 2000  # none idle for 5 minutes: all kept
    clock.now += SWEEP_EVERY_S
    http.get_ratelimit("POST /channels/{channel_id}/messages:new")
    assert sweeps == [1, 2001]  # a minute later, the next new bucket sweeps again


async def test_the_bots_client_paces_its_sweeps(
    make_config: ConfigFactory, fake_openai: FakeOpenAI, fake_discord: FakeDiscord
) -> None:
    async with adapter_on(make_config()) as (_, adapter):
        client = adapter._client
        assert client is not None
        assert client.http._try_clear_expired_ratelimits.__name__ == "paced"
