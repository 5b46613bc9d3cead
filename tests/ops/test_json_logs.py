"""log.format = "json": one object per line, the message being handled named, secrets and PII redacted."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from bot.logs import HIDDEN, JSONLines, handling, in_conversation, redact_logs, setup_logging
from bot.pii import Redactor
from bot.settings import Secrets

KEY = "sk-live-0123456789abcdef"


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """The root logger set up as `supportbot` does with log.format = "json", into a string."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    for handler in saved[0]:  # pytest's own: setup_logging leaves a logger with others' handlers alone
        root.removeHandler(handler)
    out = io.StringIO()
    setup_logging(logging.INFO, "json", stream=out)
    redact_logs(Secrets(openai_api_key=SecretStr(KEY)), Redactor("US"))
    try:
        yield out
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])


def lines(out: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_each_record_is_one_json_object_with_the_ids_of_the_message_being_handled(
    json_log: io.StringIO,
) -> None:
    log = logging.getLogger("tests.json")
    log.info("before")
    with handling("slack", "C1:1.1"):
        log.info("stored")
        in_conversation(42)
        log.warning("answering\nover two lines")
    log.info("after")
    before, stored, answering, after = lines(json_log)
    assert before.keys() == after.keys() == {"time", "level", "logger", "message"}
    assert (stored["platform"], stored["message_id"]) == (
        "slack",
        "C1:1.1",
    ) and "conversation_id" not in stored
    assert answering["conversation_id"] == 42 and answering["message"] == "answering\nover two lines"
    assert (answering["level"], answering["logger"]) == ("WARNING", "tests.json")
    assert str(before["time"]).endswith("+00:00")


def test_a_logger_with_someone_elses_handler_is_left_alone(json_log: io.StringIO) -> None:
    root = logging.getLogger()
    ours = [h for h in root.handlers if isinstance(h.formatter, JSONLines)]
    others = [h for h in root.handlers if not isinstance(h.formatter, JSONLines)]
    assert len(ours) == 1 and others  # the fixture's, and pytest's own added for this test
    setup_logging(logging.DEBUG, "text")  # as a command run in-process under a test runner does
    assert root.handlers == [*ours, *others] and root.level == logging.INFO
    for handler in others:
        root.removeHandler(handler)
    try:
        setup_logging(logging.WARNING, "text")  # with only ours there, it is replaced
        assert len(root.handlers) == 1 and root.handlers[0] is not ours[0] and root.level == logging.WARNING
    finally:
        for handler in others:
            root.addHandler(handler)


def test_secrets_and_personal_data_are_redacted_in_json_too(json_log: io.StringIO) -> None:
    log = logging.getLogger("tests.json")
    log.warning("upstream said: Incorrect API key provided: %s (ada@example.com)", KEY)
    try:
        raise RuntimeError(f"boom with {KEY} for ada@example.com")
    except RuntimeError:
        log.exception("failed")
    said, failed = lines(json_log)
    text = json_log.getvalue()
    assert KEY not in text and "ada@example.com" not in text
    assert HIDDEN in str(said["message"]) and "[email]" in str(said["message"])
    assert "RuntimeError" in str(failed["exception"]) and HIDDEN in str(failed["exception"])
