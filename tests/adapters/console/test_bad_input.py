"""Bad input on the console: lone surrogates in a line and in an /escalate reason are repaired, stored
and answered; the chat goes on.

The real console adapter, manager and SQLite, and the fake OpenAI server.
"""

from __future__ import annotations

import io

from adapters.console.adapter import ConsoleAdapter
from bot.app import running_app
from bot.events import ThreadKey
from tests.conftest import ConfigFactory
from tests.fakes.openai_server import FakeOpenAI


async def test_lone_surrogates_are_repaired_stored_and_answered(
    make_config: ConfigFactory, fake_openai: FakeOpenAI
) -> None:
    out = io.StringIO()
    async with running_app(make_config()) as app:
        console = ConsoleAdapter(
            thread="c1",
            user_name="ad\udca9",
            stdin=io.StringIO("caf\ud800 price?\n/escalate my \udce9 plan\nstill there?\n"),
            stdout=out,
            interactive=False,
            bot_name="Supportbot",
            service=app.service,
        )
        await console.run()
        conv = await app.store.find_conversation(ThreadKey("console", "", "console", "c1"))
        assert conv is not None
        stored = await app.store.messages(conv.id, 10)
        [escalation] = await app.store.open_escalations()
    lines = out.getvalue().splitlines()
    assert lines[0] == "Echo (2 messages): caf\ufffd price?"
    assert "still there?" not in out.getvalue()  # a person has it now: the bot stays quiet, as it should
    assert (stored[0].text, stored[0].user_name) == ("caf\ufffd price?", "ad\ufffd")
    assert escalation[0].reason == "my \ufffd plan"
    assert stored[-1].text == "still there?"
