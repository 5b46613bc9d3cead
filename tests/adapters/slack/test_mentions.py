"""No pings from bot text on Slack: mentions written by the model or a user reach the fake Slack Web
API shown as typed but pinging nobody, on every path (native stream, edits, relay, cards, notes);
the only mention the bot sends is the staff group on cards."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from adapters.slack.mrkdwn import BREAK, defuse, escape, to_mrkdwn
from tests.adapters.slack.test_adapter import CHANNEL, DM, USER, wait_answers
from tests.adapters.slack.test_handoff import GROUP, STAFF, STAFF_CHANNEL, card_of, staff_toml, thread_texts
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_server import FakeSlack, mention, message
from tests.helpers import BotFactory

HOSTILE = (
    "Hi <!channel> <!here> <@U0ADA> <!subteam^S1> <!everyone|everyone> &lt;!here&gt; @here, `<!channel>`"
)
_RAW = re.compile(r"<(?:@|!(?:channel|here|everyone|subteam))", re.IGNORECASE)
_BARE = re.compile(r"(?<![\w/@.:=-])@(?:channel|here|everyone)\b", re.IGNORECASE)
_MARKDOWN_FIELDS = {"markdown_text", "chunks"}  # Markdown Slack renders itself: entities may be decoded


def _texts(value: Any, markdown: bool = False) -> Iterator[tuple[str, bool]]:
    """Every string in a call's parameters (JSON-encoded blocks included), and whether it is Markdown."""
    if isinstance(value, str):
        if value[:1] in "[{":
            try:
                yield from _texts(json.loads(value), markdown)
                return
            except ValueError:
                pass
        yield value, markdown
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _texts(item, markdown or key in _MARKDOWN_FIELDS)
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item, markdown)


def pings(slack: FakeSlack) -> list[str]:
    """What in the bot's calls would notify someone, other than the staff group it means to call."""
    found: list[str] = []
    for call in slack.calls:
        for text, markdown in _texts(call.params):
            text = text.replace(f"<!subteam^{GROUP}>", "")  # the cards' own mention
            for shown in {text, html.unescape(text)} if markdown else {text}:
                found += [f"{call.method}: {shown!r}" for _ in _RAW.finditer(shown)]
                found += [f"{call.method}: {shown!r}" for _ in _BARE.finditer(shown)]
    return found


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("<!channel> and <@U1|ada>", f"<{BREAK}!channel> and <{BREAK}@U1|ada>"),
        ("&lt;!here&gt; <!subteam^S1>", f"&lt;{BREAK}!here&gt; <{BREAK}!subteam^S1>"),
        (
            "@everyone, mail me@here.com or https://x.test/@here",
            f"@{BREAK}everyone, mail me@here.com or https://x.test/@here",
        ),
        ("<!-- a comment --> <#C1> <https://x.test>", "<!-- a comment --> <#C1> <https://x.test>"),
    ],
)
def test_markdown_for_slack_keeps_mentions_readable_but_inert(text: str, shown: str) -> None:
    assert defuse(text) == shown


def test_mrkdwn_escapes_mentions_and_breaks_bare_ones() -> None:
    assert escape("<!here> @channel") == f"&lt;!here&gt; @{BREAK}channel"
    assert to_mrkdwn("**<@U1>** `<!here>`") == "*&lt;@U1&gt;* `&lt;!here&gt;`"


async def test_a_streamed_channel_answer_pings_nobody(start_bot: BotFactory, fake_openai: FakeOpenAI) -> None:
    fake_openai.reply = lambda _: HOSTILE
    bot = await start_bot()
    await bot.send.event(mention("say hi to everyone", channel=CHANNEL, ts="900.1", user=USER))
    [answer] = await wait_answers(bot.slack, CHANNEL, "900.1", 1)
    assert bot.slack.called("chat.startStream")  # streamed natively, as Markdown
    assert answer.text.startswith(f"Hi <{BREAK}!channel> <{BREAK}!here> <{BREAK}@U0ADA> <{BREAK}!subteam^S1>")
    assert pings(bot.slack) == []


async def test_an_answer_by_edits_in_a_dm_pings_nobody(
    start_bot: BotFactory, fake_openai: FakeOpenAI
) -> None:
    fake_openai.reply = lambda _: HOSTILE
    bot = await start_bot()
    await bot.send.event(message("say hi", channel=DM, ts="910.1", user=USER))
    [answer] = await wait_answers(bot.slack, DM, None, 1)
    assert not bot.slack.called("chat.startStream")  # a DM's top level: posted and edited as mrkdwn
    assert answer.text.startswith("Hi &lt;!channel&gt; &lt;!here&gt; &lt;@U0ADA&gt; &lt;!subteam^S1&gt;")
    assert pings(bot.slack) == []


async def test_the_relay_cards_and_notes_ping_only_the_staff_group(
    start_bot: BotFactory, fake_openai: FakeOpenAI
) -> None:
    def reply(request: dict[str, Any]) -> str | dict[str, Any]:
        if not request.get("stream"):
            return "The customer says <!channel> and @everyone."  # the card's summary
        return {"tool": "escalate_to_human", "arguments": {"reason": "Refund <!here> <@U0ADA>"}}

    fake_openai.reply = reply
    bot = await start_bot(staff_toml())
    bot.slack.users[STAFF] = "Sam"
    await bot.send.event(message("refund <!here>", channel=DM, ts="920.1", user=USER))
    await thread_texts(bot.slack, DM, None, 1)
    card = await card_of(bot.slack)
    assert card.text.startswith(f"<!subteam^{GROUP}> ")  # the one mention the bot means
    await bot.send.event(message("<!here> where is my money <@U0ADA>", channel=DM, ts="920.2", user=USER))
    [relayed] = await thread_texts(bot.slack, STAFF_CHANNEL, card.ts, 1)
    assert relayed == "Ada: &lt;!here&gt; where is my money &lt;@U0ADA&gt;"
    await bot.send.event(
        message("<!channel> sorted", channel=STAFF_CHANNEL, ts="921.1", user=STAFF, thread_ts=card.ts)
    )
    dm = await thread_texts(bot.slack, DM, None, 2)
    assert dm[1] == "Sam (support): &lt;!channel&gt; sorted"
    assert pings(bot.slack) == []
