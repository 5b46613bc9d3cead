"""Small talk: a greeting, thanks, "ok" or goodbye gets a short friendly reply, with or without a
model, and no search of the help center (it has nothing to say about "thanks!").

Only a whole message that is nothing but such words counts: "thanks, but how do I export?" is a
question and is answered as one.
"""

from __future__ import annotations

import re

_GREETING = "greeting"
_THANKS = "thanks"
_ACK = "ack"
_BYE = "bye"

_PHRASES: dict[str, tuple[str, ...]] = {
    _GREETING: (
        "hi", "hello", "hey", "hiya", "howdy", "yo", "good morning", "good afternoon", "good evening",
        "morning", "hi there", "hello there", "hey there", "greetings",
    ),
    _THANKS: (
        "thanks", "thank you", "thx", "ty", "tysm", "cheers", "thanks a lot", "thank you so much",
        "thanks so much", "many thanks", "much appreciated", "appreciated", "great thanks",
        "ok thanks", "okay thanks", "ok thank you", "perfect thanks", "awesome thanks", "thanks again",
    ),
    _ACK: (
        "ok", "okay", "k", "kk", "okie", "got it", "cool", "great", "nice", "perfect", "awesome",
        "alright", "all right", "sure", "sounds good", "understood", "makes sense", "ok cool",
        "ok great", "i see", "noted",
    ),
    _BYE: ("bye", "goodbye", "bye bye", "see you", "see ya", "have a nice day", "have a good day"),
}  # fmt: skip
_REPLIES = {
    _GREETING: "Hi! What can I help you with?",
    _THANKS: "You're welcome! Anything else I can help with?",
    _ACK: "Glad that helps. Anything else I can help with?",
    _BYE: "Goodbye! Come back any time.",
}
_KIND = {phrase: kind for kind, phrases in _PHRASES.items() for phrase in phrases}
_ONLY_EMOJI = re.compile(r"^[\W_]*$")
_THANKS_EMOJI = frozenset("🙏👍🙌❤")


def _normalised(text: str) -> str:
    words = re.findall(r"[a-z']+", text.lower().replace("\u2019", "'"))
    return " ".join(words)


def small_talk(text: str) -> str | None:
    """The reply to a message that is only small talk, else None (it is a question to answer)."""
    stripped = text.strip()
    if len(stripped) > 60:
        return None
    phrase = _normalised(stripped)
    if not phrase:  # only emoji or punctuation: a 👍 or 🙏 is thanks, anything else isn't chat
        kind = _THANKS if stripped and any(ch in _THANKS_EMOJI for ch in stripped) else None
        return _REPLIES[kind] if kind and _ONLY_EMOJI.match(stripped) else None
    kind = _KIND.get(phrase) or _KIND.get(phrase.removesuffix(" bot").removesuffix(" supportbot"))
    return _REPLIES[kind] if kind else None
