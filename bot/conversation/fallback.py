"""What the bot says when it can't give a model's answer: apologies, refusals, the knowledge base alone,
and the offer of a person. Texts only: the manager decides when each applies."""

from __future__ import annotations

from bot.conversation.grounding import passages_answer
from bot.kb import Hit
from bot.llm.client import LLMErrorKind

OFFER_HUMAN = "If you'd like, I can bring in a person from the team: use /escalate or the button."
# Where a platform has no buttons, the offer names only what works there.
OFFERS = {"console": "If you'd like, I can bring in a person from the team: type /escalate."}

APOLOGIES: dict[LLMErrorKind, str] = {
    LLMErrorKind.RATE_LIMITED: "Sorry, I'm getting too many requests right now.",
    LLMErrorKind.TIMEOUT: "Sorry, the answer took too long to arrive.",
    LLMErrorKind.AUTH: "Sorry, I can't reach my language model (its credentials were refused).",
    LLMErrorKind.BAD_REQUEST: "Sorry, I couldn't process that request.",
    LLMErrorKind.CONTEXT_TOO_LONG: "Sorry, this conversation has grown too long for me to read.",
    LLMErrorKind.SERVER: "Sorry, my language model is having trouble right now.",
    LLMErrorKind.NOT_CONFIGURED: (
        "No language model is configured, so I can't answer yet. An operator can set"
        " OPENAI_API_KEY (and OPENAI_BASE_URL for any OpenAI-compatible server) and restart me."
    ),
}
MODERATED = "Sorry, I can't respond to that message. If there's something else I can help with, just ask."
MODERATION_UNAVAILABLE = (
    "Sorry, I can't check messages right now, so I can't answer this one. Please try again in a few minutes."
)
EMPTY_MESSAGE = "I didn't catch a question there. What can I help you with?"
NOT_FOUND = "I couldn't find anything about that in our help center, so I'd rather not guess."
# Why the answer comes from the knowledge base alone, when that is by design rather than a failure.
NO_LLM = "no_llm"
BUDGET = "budget"  # llm.daily_budget_usd, or limits.daily_tokens for a model without a price
USER_BUDGET = "user_budget"  # limits.user_daily_usd
BUDGET_REACHED = "I've reached today's answering budget, so I can't write an answer right now."
USER_BUDGET_REACHED = (
    "You've reached today's limit of written answers, so I can't write one right now"
    " (it resets at midnight UTC)."
)
PASSAGES_LEAD: dict[str, str] = {
    NO_LLM: "Here is what I found in our help center (excerpts; no AI model is configured):",
    BUDGET: "I've reached today's answering budget, so here is what I found in our help center:",
    USER_BUDGET: (
        "You've reached today's limit of written answers (it resets at midnight UTC),"
        " so here is what I found in our help center:"
    ),
}
REACHED = {BUDGET: BUDGET_REACHED, USER_BUDGET: USER_BUDGET_REACHED}


def offer_human(platform: str) -> str:
    return OFFERS.get(platform, OFFER_HUMAN)


def too_fast(per_minute: int) -> str:
    return (
        f"You're sending messages faster than I can answer them (at most {per_minute} a minute)."
        " Please wait a moment, then send your question again."
    )


def too_many_chars(chars: int, limit: int) -> str:
    return (
        f"Your message is {chars:,} characters long, and I can read at most {limit:,} at once."
        " Could you shorten it or send it in parts?"
    )


def too_long(tokens: int, budget: int) -> str:
    return (
        f"Your message is about {tokens:,} tokens long, and I can read at most"
        f" {max(budget, 0):,} at once. Could you shorten it or send it in parts?"
    )


def without_model(
    platform: str, reason: str, apology: str, hits: list[Hit] | None, passage: str | None
) -> str:
    """The reply from the knowledge base alone. `hits` None: no knowledge base; [] : nothing found;
    `passage` is the best hit's excerpt."""
    offer = offer_human(platform)
    if hits and passage is not None:
        lead = (
            PASSAGES_LEAD.get(reason)
            or f"{apology} Meanwhile, these passages from our help center look relevant:"
        )
        return passages_answer(lead, hits, passage, offer)
    if hits is not None and reason in PASSAGES_LEAD:
        return f"{NOT_FOUND} {offer}"
    if reason == NO_LLM:
        return APOLOGIES[LLMErrorKind.NOT_CONFIGURED]
    if reason in REACHED:  # a cap, and no knowledge base to answer from
        return f"{REACHED[reason]} {offer}"
    return f"{apology} {offer}"
