"""The soak benchmark, small: both platforms, `supportbot run` as a real process, LLM faults, retries,
duplicate deliveries and one kill -9 with a restart on the same database (bench/soak, bench/README.md).

Asserted: nothing lost (store before ack, the outbox and Discord backfill), as issue 11 asked,
besides what the bot guaranteed before, and no half-written answer left (the outbox; on Slack also
a message posted just before the kill whose ts was never stored, found in the thread).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bench.soak.run import Options, soak
from bench.soak.tally import Figures, report

PLATFORMS = ("slack", "discord")
MESSAGES = 50


def options(platform: str, workdir: Path) -> Options:
    return Options(
        platform=platform,
        messages=MESSAGES,
        threads=25,
        kills=1,
        seed=11,
        rate=20.0,
        dup_rate=0.2,  # so that a run of 50 surely has some
        patience_s=5.0,
        settle_s=10.0,
        llm_timeout_s=2.0,
        answer_deadline_s=6.0,
        slack_retry_delays=(1.0, 5.0, 20.0),
        restart_pause_s=0.2,
        workdir=workdir,
    )


@pytest.fixture(scope="module")
def soaked(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Figures]:
    """One small soak per platform, both at once (30–60 s), shared by this module's tests."""

    async def both() -> list[Figures]:
        runs = (soak(options(p, tmp_path_factory.mktemp(f"soak-{p}"))) for p in PLATFORMS)
        return list(await asyncio.gather(*runs))

    results = dict(zip(PLATFORMS, asyncio.run(both()), strict=True))
    for figures in results.values():
        print(report(figures, explain=True))
    return results


@pytest.mark.parametrize("platform", PLATFORMS)
def test_the_soak_ran_its_scenario(soaked: dict[str, Figures], platform: str) -> None:
    figures = soaked[platform]
    assert figures.notes["kills"] == 1
    assert figures.unique + figures.unsent == MESSAGES
    assert figures.sent > figures.unique  # duplicate deliveries (and on Slack, retries) were sent
    llm_faults = figures.notes["LLM faults"]
    assert isinstance(llm_faults, int) and llm_faults > 0
    assert figures.answered_once >= MESSAGES // 2
    assert figures.notes["tracebacks in log"] == 0


@pytest.mark.parametrize("platform", PLATFORMS)
def test_no_message_is_answered_twice(soaked: dict[str, Figures], platform: str) -> None:
    assert soaked[platform].duplicates == 0, report(soaked[platform], explain=True)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_no_answer_lands_in_another_thread(soaked: dict[str, Figures], platform: str) -> None:
    assert soaked[platform].wrong_thread == 0, report(soaked[platform], explain=True)


def test_no_message_is_lost(soaked: dict[str, Figures]) -> None:
    lost = {platform: figures.lost for platform, figures in soaked.items()}
    assert lost == {platform: 0 for platform in PLATFORMS}, lost


def test_no_half_written_answer_is_left(soaked: dict[str, Figures]) -> None:
    fragments = {platform: figures.fragments for platform, figures in soaked.items()}
    assert fragments == {platform: 0 for platform in PLATFORMS}, fragments
