"""Bad input on Slack: a lone surrogate in an event ("\\ud800" as a JSON escape) is repaired, stored and
answered, never dropped.

The real Bolt app in HTTP mode, signed requests, the fake Slack Web API, SQLite and the fake OpenAI server.
"""

from __future__ import annotations

from bot.events import ThreadKey
from bot.storage.store import Role
from tests.adapters.slack.test_adapter import CHANNEL, USER, wait_answers
from tests.fakes.slack_server import TEAM, mention
from tests.helpers import BotFactory


async def test_a_lone_surrogate_in_a_mention_is_repaired_stored_and_answered(start_bot: BotFactory) -> None:
    bot = await start_bot()
    event = mention("caf\ud800 price?", channel=CHANNEL, ts="300.1", user=USER)
    assert "\\ud800" in bot.send.event_body(event)  # what reaches the bot is the JSON escape
    assert await bot.send.event(event) == 200
    [answer] = await wait_answers(bot.slack, CHANNEL, "300.1", 1)
    assert answer.text == "Echo (2 messages): caf\ufffd price?"
    conv = await bot.app.store.find_conversation(ThreadKey("slack", TEAM, CHANNEL, "300.1"))
    assert conv is not None
    question = (await bot.app.store.messages(conv.id, 10))[0]
    assert (question.role, question.text) == (Role.USER, "caf\ufffd price?")
