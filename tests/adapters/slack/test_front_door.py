"""Slack's HTTP front door: junk is refused (400/401/415) before parsing, signed odd payloads get a
no-op or a clear answer, never a 500 or a traceback, the log stays short, and the bot still answers.

The real adapter in HTTP mode (Bolt behind the front door), real SQLite, the fake Slack and OpenAI.
The fuzz cases are seeded: a failure names the seed and the case, and reruns the same way.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import pytest

from adapters.slack.blocks import ESCALATE_SHORTCUT, FEEDBACK_UP_ACTION, HUMAN_ACTION
from adapters.slack.cards import CLAIM_ACTION, RATE_ACTION, RESOLVE_ACTION
from adapters.slack.http import RejectionLog
from bot.ids import ID_PATTERN, parse_id
from tests.adapters.slack.test_adapter import CHANNEL, DM, USER, wait_answers
from tests.fakes.slack_server import (
    block_action,
    event_callback,
    mention,
    message,
    message_shortcut,
    slash_command,
)
from tests.helpers import Bot, BotFactory

JSON, FORM = "application/json", "application/x-www-form-urlencoded"
SEED = 20261201
ODD_IDS = ["", "²", "١٢", "-1", "+1", " 1", "1 ", "1.0", "0x1", "9" * 19, str(2**63), "9" * 5000, "1e9"]
ODD_VALUES: list[Any] = [None, 0, -1, 1.5, True, "", "x", [], {}, [1], {"a": 1}, "²", "9" * 5000]


def front_door_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "adapters.slack.http"]


def no_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    traced = [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.exc_info or r.exc_text]
    assert not traced, traced[:5]


# -- targeted cases ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("{not json", JSON),
        ("[1, 2]", JSON),
        (urlencode({"payload": "{broken"}), FORM),
        ("", JSON),
    ],
)
async def test_unsigned_junk_is_refused_before_parsing(
    start_bot: BotFactory, caplog: pytest.LogCaptureFixture, body: str, content_type: str
) -> None:
    bot = await start_bot()
    status, text = await bot.send.post(body, content_type, {})
    assert status == 401 and "Traceback" not in text
    no_tracebacks(caplog)


@pytest.mark.parametrize("signature", ["", "²", "v0=é" + "0" * 62, "v0=deadbeef"])
async def test_a_missing_non_ascii_or_wrong_signature_is_refused(
    start_bot: BotFactory, caplog: pytest.LogCaptureFixture, signature: str
) -> None:
    bot = await start_bot()
    body = bot.send.event_body(mention("hi", channel=CHANNEL, ts="1.1", user=USER))
    headers = bot.send.headers(body) | {"X-Slack-Signature": signature}
    assert (await bot.send.post(body, JSON, headers))[0] == 401
    no_tracebacks(caplog)


@pytest.mark.parametrize("stamp", ["", "abc", "²", "١٧٠٠٠٠٠٠٠٠", "1e9", "9" * 5000, "-1", "100"])
async def test_a_non_numeric_or_stale_timestamp_is_refused(
    start_bot: BotFactory, caplog: pytest.LogCaptureFixture, stamp: str
) -> None:
    bot = await start_bot()
    body = bot.send.event_body(mention("hi", channel=CHANNEL, ts="1.1", user=USER))
    headers = bot.send.headers(body) | {"X-Slack-Request-Timestamp": stamp}
    assert (await bot.send.post(body, JSON, headers))[0] == 401
    no_tracebacks(caplog)


async def test_a_signed_but_stale_request_is_refused(start_bot: BotFactory) -> None:
    bot = await start_bot()
    body = bot.send.event_body(mention("hi", channel=CHANNEL, ts="1.1", user=USER))
    headers = bot.send.headers(body, timestamp=int(time.time()) - 301)
    assert (await bot.send.post(body, JSON, headers))[0] == 401


@pytest.mark.parametrize("content_type", ["text/plain", "", "application/xml", FORM])
async def test_a_signed_event_with_the_wrong_content_type_is_not_answered(
    start_bot: BotFactory, content_type: str
) -> None:
    bot = await start_bot()
    body = bot.send.event_body(mention("hello", channel=CHANNEL, ts="1.1", user=USER))
    status, _ = await bot.send.post(body, content_type)
    assert status in (400, 415)
    await bot.adapter.close()
    assert not bot.slack.called("chat.startStream") and not bot.slack.called("chat.postMessage")


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("{not json", JSON),
        ("[1, 2]", JSON),
        ('"text"', JSON),
        (urlencode({"payload": "{broken"}), FORM),
        (urlencode({"payload": "[]"}), FORM),
        (urlencode({"a": "b"}), FORM),
        ("\xff\xfe", JSON),
        (json.dumps({"type": "event_callback", "event": "hi"}), JSON),
        (json.dumps({"type": "event_callback", "authorizations": [1], "event": {"type": "x"}}), JSON),
    ],
)
async def test_signed_malformed_bodies_get_400(
    start_bot: BotFactory, caplog: pytest.LogCaptureFixture, body: str, content_type: str
) -> None:
    bot = await start_bot()
    assert (await bot.send.post(body, content_type))[0] == 400
    no_tracebacks(caplog)


@pytest.mark.parametrize("missing", ["user_id", "channel_id", "team_id"])
async def test_a_slash_command_without_who_or_where_is_a_no_op(
    start_bot: BotFactory, caplog: pytest.LogCaptureFixture, missing: str
) -> None:
    """Not an escalation of the DM by nobody: acked with nothing to say, nothing done."""
    bot = await start_bot('[escalation]\nkeywords = ["a human"]\n')
    await bot.send.event(message("hello", channel=DM, ts="4.1", user=USER))
    await wait_answers(bot.slack, DM, None, 1)
    for command in ("/escalate", "/resolve"):
        form = slash_command(command, "help", channel=DM, user=USER)
        del form[missing]
        assert await bot.send.post(urlencode(form), FORM) == (200, ""), (command, missing)
    assert not await bot.app.store.open_escalations()
    no_tracebacks(caplog)


@pytest.mark.parametrize("missing", ["text", "channel_name", "response_url", "trigger_id"])
async def test_a_slash_command_missing_another_field_is_still_answered(
    start_bot: BotFactory, caplog: pytest.LogCaptureFixture, missing: str
) -> None:
    bot = await start_bot()
    form = slash_command("/escalate", "help", channel=CHANNEL, user=USER)
    del form[missing]
    status, body = await bot.send.post(urlencode(form), FORM)
    assert status == 200 and "Mention me" in json.loads(body)["text"]
    no_tracebacks(caplog)


@pytest.mark.parametrize("drop", ["user", "channel", "message", "callback_id"])
async def test_a_message_shortcut_with_a_missing_field_is_a_no_op(
    start_bot: BotFactory, caplog: pytest.LogCaptureFixture, drop: str
) -> None:
    bot = await start_bot()
    payload = message_shortcut(
        ESCALATE_SHORTCUT, user=USER, channel=CHANNEL, ts="6.1", thread_ts=None, text="x"
    )
    del payload[drop]
    assert (await bot.send.interaction(payload))[0] in (200, 400, 404)  # 404: Bolt has no listener
    await bot.adapter.close()
    no_tracebacks(caplog)
    assert not bot.slack.called("chat.postEphemeral")


def test_rejections_are_logged_once_a_minute_per_reason_with_a_count(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    rejections = RejectionLog(clock=lambda: now[0])
    for second in range(130):
        now[0] = float(second)
        rejections.note(401, "bad signature")
        rejections.note(400, "body is not valid JSON")
    lines = [r.getMessage() for r in front_door_lines(caplog)]
    assert lines == [
        "Slack HTTP: refused a request (401): bad signature",
        "Slack HTTP: refused a request (400): body is not valid JSON",
        "Slack HTTP: refused a request (401): bad signature (59 more since the last line)",
        "Slack HTTP: refused a request (400): body is not valid JSON (59 more since the last line)",
        "Slack HTTP: refused a request (401): bad signature (59 more since the last line)",
        "Slack HTTP: refused a request (400): body is not valid JSON (59 more since the last line)",
    ]


async def test_a_command_whose_text_says_payload_is_still_a_command(start_bot: BotFactory) -> None:
    """Bolt's own form parsing reads any body containing "payload" as interactivity."""
    bot = await start_bot()
    status, body = await bot.send.command("/escalate", "the payload failed", channel=CHANNEL, user=USER)
    assert status == 200 and "Mention me" in json.loads(body)["text"]


def test_ids_are_ascii_digits_that_fit_64_bits() -> None:
    assert parse_id("42") == 42 and parse_id(str(2**63 - 1)) == 2**63 - 1
    assert all(parse_id(odd) is None for odd in ODD_IDS if odd != "9" * 19)
    assert parse_id("9" * 19) is None  # > 2**63 - 1
    assert ID_PATTERN == "[0-9]{1,18}" and int("9" * 18) < 2**63


@pytest.mark.parametrize("odd", ODD_IDS)
async def test_buttons_with_odd_ids_are_acked_and_ignored(
    start_bot: BotFactory, caplog: pytest.LogCaptureFixture, odd: str
) -> None:
    bot = await start_bot()
    for action, value in [
        (HUMAN_ACTION, f"button:{odd}"),
        (FEEDBACK_UP_ACTION, f"up:{odd}"),
        (CLAIM_ACTION, odd),
        (RESOLVE_ACTION, odd),
        (f"{RATE_ACTION}_3", f"{odd}:3"),
    ]:
        payload = block_action(action, value, user=USER, channel=CHANNEL, message_ts="5.1", thread_ts="5.1")
        assert (await bot.send.interaction(payload))[0] == 200, (action, value)
    await bot.adapter.close()
    no_tracebacks(caplog)
    assert not bot.slack.called("chat.postEphemeral")


async def test_feedback_on_an_unknown_reply_says_the_conversation_is_gone(
    start_bot: BotFactory, caplog: pytest.LogCaptureFixture
) -> None:
    bot = await start_bot()
    payload = block_action(
        FEEDBACK_UP_ACTION, "up:999", user=USER, channel=DM, message_ts="5.1", thread_ts=None
    )
    assert (await bot.send.interaction(payload))[0] == 200
    [said] = await bot.slack.wait_calls("chat.postEphemeral")
    assert said.params["text"].startswith("I can't find that conversation any more.")
    no_tracebacks(caplog)


# -- the fuzz ---------------------------------------------------------------------------------------


def _junk(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(9 if depth < 3 else 6)
    atoms: list[Callable[[], Any]] = [
        lambda: None,
        lambda: rng.choice([True, False]),
        lambda: rng.randint(-(2**70), 2**70),
        lambda: rng.random(),
        lambda: "".join(rng.choice('ab²:1 <@!>\\"\u0000é') for _ in range(rng.randrange(8))),
        lambda: rng.choice([*ODD_IDS, "up:1", "down:1", "button:1", "1:3"]),
        lambda: [_junk(rng, depth + 1) for _ in range(rng.randrange(4))],
        lambda: {rng.choice(KEYS): _junk(rng, depth + 1) for _ in range(rng.randrange(5))},
        lambda: {rng.choice(KEYS): _junk(rng, depth + 1) for _ in range(rng.randrange(5))},
    ]
    return atoms[kind]()


KEYS = [
    "type", "event", "user", "id", "team", "channel", "ts", "thread_ts", "text", "actions",
    "action_id", "value", "container", "message", "command", "authorizations", "channel_type",
    "subtype", "files", "team_id", "user_id", "channel_id", "callback_id", "challenge",
]  # fmt: skip


def _mutate(rng: random.Random, value: dict[str, Any]) -> dict[str, Any]:
    """A real payload with one to three fields dropped or replaced by something odd (nested too)."""
    out: dict[str, Any] = json.loads(json.dumps(value))
    for _ in range(rng.randint(1, 3)):
        target = out
        while rng.random() < 0.5:
            nested = [k for k, v in target.items() if isinstance(v, dict)]
            if not nested:
                break
            target = target[rng.choice(nested)]
        if not target:
            break
        key = rng.choice(list(target))
        if rng.random() < 0.3:
            del target[key]
        else:
            target[key] = rng.choice([*ODD_VALUES, _junk(rng)])
    return out


def _signed_case(rng: random.Random, n: int) -> tuple[str, str]:
    ts = f"{9000 + n}.1"
    kind = rng.randrange(6)
    if kind == 0:
        return json.dumps(_junk(rng)), rng.choice([JSON, FORM])
    if kind == 1:
        event = rng.choice(
            [mention("x", channel=CHANNEL, ts=ts, user=USER), message("x", channel=DM, ts=ts, user=USER)]
        )
        return json.dumps(_mutate(rng, event_callback(event, f"EvF{n}"))), JSON
    if kind == 2:
        action = rng.choice(
            [HUMAN_ACTION, FEEDBACK_UP_ACTION, CLAIM_ACTION, RESOLVE_ACTION, f"{RATE_ACTION}_2"]
        )
        value = rng.choice(["up:1", "button:1", "1", "1:2", *ODD_IDS])
        payload = _mutate(
            rng, block_action(action, value, user=USER, channel=CHANNEL, message_ts=ts, thread_ts=ts)
        )
        return urlencode({"payload": json.dumps(payload)}), FORM
    if kind == 3:
        form = slash_command(rng.choice(["/escalate", "/resolve"]), "x", channel=CHANNEL, user=USER)
        for key in rng.sample(list(form), rng.randrange(4)):
            del form[key]
        return urlencode(form), FORM
    if kind == 4:
        return urlencode(
            {"payload": "".join(rng.choice('{}[]":,a1') for _ in range(rng.randrange(12)))}
        ), FORM
    kinds = ["event_callback", "block_actions", "url_verification", "message_action"]
    envelope = {"event": {"type": "app_mention"}, "user": {"id": USER}, "challenge": "c"}
    return json.dumps({"type": rng.choice(kinds), **_mutate(rng, envelope)}), JSON


def _unsigned_case(rng: random.Random, bot: Bot) -> tuple[str, str, dict[str, str]]:
    body = rng.choice(
        [
            json.dumps(_junk(rng)),
            "{" + "".join(rng.choice('{}[]":,a1') for _ in range(rng.randrange(20))),
            urlencode({"payload": "{broken"}),
            "[" * 5000,
        ]
    )
    stamp = rng.choice([str(int(time.time())), "", "²", "abc", "9" * 5000, "1.5", "0"])
    headers = {"X-Slack-Request-Timestamp": stamp} if rng.random() < 0.8 else {}
    if rng.random() < 0.5:
        headers["X-Slack-Signature"] = rng.choice(["v0=deadbeef", "", "v0=" + "0" * 64, "²"])
    if rng.random() < 0.2:  # signed with another secret
        headers = bot.send.headers(body, secret="not-the-secret")
    return body, rng.choice([JSON, FORM, "text/plain", ""]), headers


async def test_fuzzed_requests_get_no_5xx_no_traceback_and_the_bot_still_answers(
    start_bot: BotFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    bot = await start_bot("[limits]\nuser_messages_per_minute = 0\n")  # the fuzz sends as one user
    rng = random.Random(SEED)
    for n in range(1200):
        body, content_type, headers = _unsigned_case(rng, bot)
        status, _ = await bot.send.post(body, content_type, headers)
        assert status == 401, (SEED, n, body[:200], headers)
    statuses: dict[int, int] = {}
    for n in range(1800):
        body, content_type = _signed_case(rng, n)
        status, text = await bot.send.post(body, content_type)
        assert status < 500 and "Traceback" not in text, (SEED, n, content_type, body[:300])
        statuses[status] = statuses.get(status, 0) + 1
    assert statuses.get(200, 0) > 100 and statuses.get(400, 0) > 100  # both paths were exercised
    await bot.send.event(mention("still there?", channel=CHANNEL, ts="99999.1", user=USER))
    [answer] = await wait_answers(bot.slack, CHANNEL, "99999.1", 1)
    assert answer.text.endswith("still there?")
    await bot.adapter.close()
    no_tracebacks(caplog)
    assert len(front_door_lines(caplog)) < 40  # one line per reason per minute, not one per request
