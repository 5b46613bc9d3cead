"""The metrics the core records as messages flow, read from the app's own registry (real app, real
Slack adapter over HTTP against the fake Slack, real SQLite)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from bot.ops.metrics import Metrics
from tests.fakes.slack_server import FakeSlack, message
from tests.helpers import Bot, BotFactory

DM, USER = "D0ADA", "U0ADA"


def sample(bot: Bot, name: str, **labels: str) -> float:
    return bot.app.metrics.registry.get_sample_value(name, labels) or 0.0


async def say(bot: Bot, text: str, ts: str, answers: int) -> None:
    assert await bot.send.event(message(text, channel=DM, ts=ts, user=USER)) == 200
    await bot.slack.wait_for(lambda: len(done(bot.slack)) >= answers, what=f"{answers} replies")


def done(slack: FakeSlack) -> list[object]:
    return [m for m in slack.thread(DM, None) if not m.streaming and m.text]


async def test_an_escalation_by_keyword_is_counted_by_its_trigger(start_bot: BotFactory) -> None:
    bot = await start_bot('[escalation]\nkeywords = ["talk to a human"]\n')
    await say(bot, "please let me talk to a human", "1.1", 1)
    assert sample(bot, "supportbot_escalations_total", trigger="keyword") == 1
    assert sample(bot, "supportbot_escalations_total", trigger="model") == 0
    assert sample(bot, "supportbot_messages_received_total", platform="slack") == 1
    assert sample(bot, "supportbot_llm_calls_total", outcome="ok") == 0  # no model was asked


async def test_a_rate_limited_message_is_counted_and_refused(start_bot: BotFactory) -> None:
    bot = await start_bot("[limits]\nuser_messages_per_minute = 1\n")
    await say(bot, "first", "2.1", 1)
    await say(bot, "second, too soon", "2.2", 2)
    assert sample(bot, "supportbot_rate_limited_messages_total", platform="slack") == 1
    assert sample(bot, "supportbot_messages_refused_total", platform="slack") == 1
    assert sample(bot, "supportbot_messages_answered_total", platform="slack") == 1
    assert sample(bot, "supportbot_answer_latency_seconds_count", platform="slack") == 2


async def test_a_question_the_knowledge_base_has_nothing_for_is_an_abstention(start_bot: BotFactory) -> None:
    bot = await start_bot(kb=True)
    await say(bot, "what is the airspeed velocity of an unladen swallow", "3.1", 1)
    assert sample(bot, "supportbot_kb_abstentions_total") == 1
    await say(bot, "How do I reset my password?", "3.2", 2)
    assert sample(bot, "supportbot_kb_abstentions_total") == 1  # that one the help center answers


def test_two_apps_never_share_a_registry() -> None:
    first, second = Metrics(CollectorRegistry()), Metrics(CollectorRegistry())
    first.received.labels("slack").inc()
    assert first.registry.get_sample_value("supportbot_messages_received_total", {"platform": "slack"}) == 1
    assert (
        second.registry.get_sample_value("supportbot_messages_received_total", {"platform": "slack"}) is None
    )
