"""Personal data is replaced by a label where privacy.redact says: the log, model requests, the store."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.app import running_app
from bot.events import ThreadKey
from bot.pii import Redactor
from tests.conftest import ConfigFactory
from tests.fakes.openai_server import FakeOpenAI
from tests.helpers import message

TEXT = "I'm ada@example.com, +1 415-555-0132, card 4111 1111 1111 1111, IBAN DE89 3704 0044 0532 0130 00"


def test_each_kind_of_personal_data_gets_its_label() -> None:
    out = Redactor("US")(TEXT)
    assert out == "I'm [email], [phone], card [card], IBAN [iban]"
    # Numbers that fail their checksum are not cards or IBANs; an order number stays.
    assert Redactor("US")("order 4111 1111 1111 1112, ref DE00 1234 5678 9012 3456 78") == (
        "order 4111 1111 1111 1112, ref DE00 1234 5678 9012 3456 78"
    )
    # Discord's ids pass Luhn one time in ten, but no card network's number starts with 1.
    snowflake = "1578478384743317963"  # Luhn-valid
    assert Redactor("US")(f"duplicate delivery of discord message {snowflake} dropped").endswith(
        f"{snowflake} dropped"
    )
    assert Redactor("US")("5555555555554444 and 378282246310005") == "[card] and [card]"


@pytest.mark.parametrize(
    ("redact", "to_model", "stored"),
    [("logs", True, True), ("logs+llm", False, True), ("all", False, False)],
)
async def test_redaction_reaches_the_model_and_the_store_as_configured(
    make_config: ConfigFactory, fake_openai: FakeOpenAI, redact: str, to_model: bool, stored: bool
) -> None:
    async with running_app(make_config(f'[privacy]\nredact = "{redact}"\n')) as app:
        msg = replace(message(TEXT), key=ThreadKey("slack", "T1", "D1", "D1"))
        async for _ in app.service.handle(msg):
            pass
        sent = fake_openai.requests[-1]["messages"][-1]["content"]
        assert ("ada@example.com" in sent) is to_model and ("4111 1111" in sent) is to_model
        conv = await app.store.find_conversation(msg.key)
        assert conv is not None
        kept = (await app.store.messages(conv.id, 5))[0].text
        assert ("ada@example.com" in kept) is stored
        if not to_model:
            assert "[email]" in sent and "[card]" in sent
