"""Personal data out of logs, model requests or the database (privacy.redact): emails, phone numbers
(the phonenumbers library), payment card numbers (Luhn-checked) and IBANs (mod-97-checked)."""

from __future__ import annotations

import re
from collections.abc import Callable

import phonenumbers

_EMAIL = re.compile(r"\b[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}\b")
_CARD = re.compile(r"\b(?:\d[ \-]?){12,18}\d\b")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b")


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


CARD_NETWORKS = "23456"  # first digits of payment cards (Mastercard, Amex, JCB, Visa, Discover, UnionPay…)


def _card(match: re.Match[str]) -> str:
    """A card number: 13–19 digits from a card network, Luhn-checked. Other first digits are left:
    Discord's ids (snowflakes, 18–19 digits from 1) pass Luhn one time in ten, and a log line
    naming a message as [card] names nothing (1 is also the airlines' UATP cards, rarely typed)."""
    digits = re.sub(r"\D", "", match.group())
    if not 13 <= len(digits) <= 19 or digits[0] not in CARD_NETWORKS:
        return match.group()
    return "[card]" if _luhn(digits) else match.group()


def _iban(match: re.Match[str]) -> str:
    raw = match.group().replace(" ", "")
    moved = raw[4:] + raw[:4]
    number = "".join(str(int(ch, 36)) for ch in moved)
    return "[iban]" if int(number) % 97 == 1 else match.group()


class Redactor:
    """Replaces personal data in text with a label ([email], [phone], [card], [iban])."""

    def __init__(self, phone_region: str = "US") -> None:
        self._region = phone_region.upper() or None

    def __call__(self, text: str) -> str:
        text = _EMAIL.sub("[email]", text)
        text = _IBAN.sub(_iban, text)
        text = _CARD.sub(_card, text)
        return self._phones(text)

    def _phones(self, text: str) -> str:
        found = list(phonenumbers.PhoneNumberMatcher(text, self._region))
        for match in reversed(found):  # from the end, so earlier offsets stay right
            text = text[: match.start] + "[phone]" + text[match.end :]
        return text


Scrub = Callable[[str], str]


def keep(text: str) -> str:
    return text
