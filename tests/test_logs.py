"""Secrets stay out of the log: configured ones and key-shaped text, upstream error text included."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.logs import HIDDEN, redact_logs
from bot.pii import Redactor
from bot.settings import Secrets
from tests.cli.test_cli import cli_env, run_cli
from tests.fakes.openai_server import FakeOpenAI

KEY = "sk-live-0123456789abcdef"


@pytest.fixture
def log_text() -> Iterator[io.StringIO]:
    """The root logger writing into a string, as `supportbot` sets it up, for one test."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield out
    finally:
        root.removeHandler(handler)


def test_configured_secrets_and_key_shapes_are_hidden(log_text: io.StringIO) -> None:
    redact_logs(Secrets(openai_api_key=SecretStr(KEY), slack_signing_secret=SecretStr("8f14e45fceea167a")))
    log = logging.getLogger("tests.logs")
    log.warning("upstream said: Incorrect API key provided: %s", KEY)
    log.warning("masked by the provider: sk-live-****cdef, signing 8f14e45fceea167a")
    log.warning("slack tokens xoxb-1234-5678-abcdef and xapp-1-A0-99-ffff, header Bearer abc.def-ghi")
    try:
        raise RuntimeError(f"boom with {KEY}")
    except RuntimeError:
        log.exception("failed")
    text = log_text.getvalue()
    for secret in (KEY, "sk-live-****cdef", "8f14e45fceea167a", "xoxb-1234", "xapp-1-A0", "abc.def-ghi"):
        assert secret not in text
    assert text.count(HIDDEN) >= 7 and "upstream said" in text and "RuntimeError" in text


async def test_a_proxy_echoing_the_key_never_puts_it_in_supportbots_log(
    fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    fake_openai.faults.append("echo-key")
    env = cli_env(tmp_path, fake_openai) | {"OPENAI_API_KEY": KEY}
    code, out, err = await run_cli("-v", "chat", "--thread", "t", stdin="hello\n", env=env)
    assert code == 0 and "Sorry" in out  # the user got the apology
    assert "Incorrect API key provided" in err  # the upstream error was logged …
    assert KEY not in err and KEY[:8] + "****" not in err  # … without the key, whole or masked


def test_personal_data_is_hidden_in_the_log_when_privacy_says_so(log_text: io.StringIO) -> None:
    redact_logs(Secrets(), Redactor("US"))
    logging.getLogger("tests.logs").warning("message from ada@example.com: call +1 415-555-0132")
    assert log_text.getvalue().strip() == "message from [email]: call [phone]"
