"""The Slack adapter's pure parts: Markdown → mrkdwn, splitting, and edit throttling against the fake."""

from __future__ import annotations

import logging

import pytest

from adapters.slack.api import make_client
from adapters.slack.mrkdwn import to_mrkdwn
from adapters.slack.payloads import clean_text
from adapters.slack.stream import EditSurface, Target
from bot.reply.split import split_message
from bot.reply.stream import ReplyStream
from bot.settings import load_config
from tests.fakes.slack_server import FakeSlack


@pytest.mark.parametrize(
    ("markdown", "mrkdwn"),
    [
        ("**bold** and __bold__", "*bold* and *bold*"),
        ("*italic* and _italic_", "_italic_ and _italic_"),
        ("***both***", "*_both_*"),
        ("~~gone~~", "~gone~"),
        ("see [the docs](https://x.test/a?b=1&c=2)", "see <https://x.test/a?b=1&amp;c=2|the docs>"),
        ("## Reset your password", "*Reset your password*"),
        ("- one\n* two\n  + nested", "• one\n• two\n  • nested"),
        ("1. first\n2. second", "1. first\n2. second"),
        ("> quoted **text**", ">quoted *text*"),
        ("a < b & c > d", "a &lt; b &amp; c &gt; d"),
        ("use `**not bold**` here", "use `**not bold**` here"),
        ("```python\nx = a**2 * b\n```", "```\nx = a**2 * b\n```"),
        ("```\nunterminated <code>", "```\nunterminated &lt;code&gt;\n```"),
        ("2 * 3 * 4", "2 * 3 * 4"),
    ],
)
def test_markdown_becomes_mrkdwn(markdown: str, mrkdwn: str) -> None:
    assert to_mrkdwn(markdown) == mrkdwn


def test_split_prefers_paragraphs_and_keeps_code_blocks_closed() -> None:
    text = "intro paragraph\n\n```\n" + "\n".join(f"line {i}" for i in range(60)) + "\n```\n\nthe end"
    chunks = split_message(text, 200)
    assert all(len(c) <= 200 for c in chunks) and len(chunks) >= 3
    assert all(c.count("```") % 2 == 0 for c in chunks)  # each part renders its code as code
    assert chunks[0].startswith("intro paragraph\n\n```\nline 0") and chunks[-1].endswith("```\n\nthe end")
    assert split_message("short", 200) == ["short"]


def test_clean_text_drops_the_mention_and_slack_escaping() -> None:
    assert clean_text("<@U0BOT> is 1 &lt; 2 &amp;&amp; 3 &gt; 2?", "U0BOT") == "is 1 < 2 && 3 > 2?"
    assert clean_text("<@U0BOT|supportbot> hi <@U0ADA>", "U0BOT") == "hi <@U0ADA>"


async def test_edits_are_throttled_and_interim_text_is_capped(
    fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", fake_slack.token)
    monkeypatch.setenv("SLACK_API_URL", fake_slack.api_url)
    now = [0.0]
    surface = EditSurface(make_client(load_config()), Target("D1", None, "T1", "U1"), 500, 1.0)
    stream = ReplyStream(surface, clock=lambda: now[0])
    text = ""
    for i in range(50):  # 50 deltas within 0.49 s: one post, no edit
        text += f"word{i} "
        now[0] = i * 0.01
        await stream.update(text)
    assert [c.method for c in fake_slack.calls] == ["chat.postMessage"]
    assert fake_slack.calls[0].params["text"] == "word0  …"
    now[0] = 1.0
    await stream.update(text)
    assert [c.method for c in fake_slack.calls][-1] == "chat.update"
    text += "x" * 900  # beyond the cap: the interim text continues in a new message
    now[0] = 2.0
    await stream.update(text)
    assert all(len(m.text) <= 500 + 2 for m in fake_slack.messages.values())
    assert len(fake_slack.messages) >= 3
    posted = await stream.finish("short final answer")
    assert [m.text for m in fake_slack.thread("D1", None)] == ["short final answer"]  # extra parts deleted
    assert posted == stream.messages and len(posted) == 1


async def test_the_web_api_client_keeps_message_text_out_of_a_debug_log(
    fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """slack-sdk writes each call's arguments and response into a DEBUG line unless its logger has
    a level of its own: a run at DEBUG would log every customer's message."""
    monkeypatch.setenv("SLACK_BOT_TOKEN", fake_slack.token)
    monkeypatch.setenv("SLACK_API_URL", fake_slack.api_url)
    client = make_client(load_config())
    with caplog.at_level(logging.DEBUG):
        await client.chat_postMessage(channel="D1", text="my card is 4111 1111 1111 1111")
    assert fake_slack.calls[-1].params["text"] == "my card is 4111 1111 1111 1111"
    assert not [r for r in caplog.records if "4111" in r.getMessage()]
