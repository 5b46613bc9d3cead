"""The conversation manager: stores each message, builds the prompt from history, streams the answer.

One lock per ThreadKey keeps a thread's messages answered in arrival order, each seeing the
exchanges before it. Every inbound message ends answered or failed; failures become a short apology.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from datetime import UTC, date, datetime

from bot.conversation.grounding import (
    NO_MATERIAL_RULES,
    PASSAGE_CHARS,
    passages_answer,
    reference_block,
    sources_footer,
)
from bot.conversation.locks import KeyedLocks
from bot.conversation.prompt import render_system_prompt, request_messages
from bot.events import (
    Accepted,
    IncomingMessage,
    ReplyDone,
    ReplyEvent,
    ReplyStatus,
    TextDelta,
    ThreadKey,
    Usage,
)
from bot.handoff.escalation import ESCALATE_TOOL, TOOL_NAME, EscalationError, Escalations, tool_reason
from bot.handoff.staff import Handoff
from bot.handoff.states import Trigger
from bot.kb import KnowledgeBase, SearchResult
from bot.kb.query import query_terms
from bot.llm.client import CompletionUsage, LLMClient, LLMError, LLMErrorKind, ToolCall
from bot.llm.tokens import TokenCounter
from bot.settings import Settings
from bot.storage.store import ConversationStore, MessageStatus, Role, StoredMessage

log = logging.getLogger(__name__)

OFFER_HUMAN = "If you'd like, I can bring in a person from the team: use /escalate or the button."
# Where a platform has no buttons, the offer names only what works there.
OFFERS = {"console": "If you'd like, I can bring in a person from the team: type /escalate."}


def offer_human(platform: str) -> str:
    return OFFERS.get(platform, OFFER_HUMAN)


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
FOLLOW_UP_TERMS = 2  # a message with this few search terms may be a follow-up ("and on mobile?")
EMPTY_MESSAGE = "I didn't catch a question there. What can I help you with?"
NOT_FOUND = "I couldn't find anything about that in our help center, so I'd rather not guess."
PASSAGES_LEAD: dict[str, str] = {
    "no_llm": "Here is what I found in our help center (excerpts; no AI model is configured):",
    "budget": "I've reached today's answering budget, so here is what I found in our help center:",
}


class ConversationManager:
    """Turns an IncomingMessage into a stream of ReplyEvents; the receiving adapter sends them."""

    def __init__(
        self,
        *,
        store: ConversationStore,
        llm: LLMClient | None,
        counter: TokenCounter,
        settings: Settings,
        system_prompt: str,
        escalations: Escalations,
        handoff: Handoff | None = None,
        kb: KnowledgeBase | None = None,
        today: Callable[[], date] = lambda: datetime.now(UTC).date(),
    ) -> None:
        self._store = store
        self._llm = llm
        self._counter = counter
        self._settings = settings
        self._system_template = system_prompt
        self._today = today
        self._escalations = escalations
        self._handoff = handoff
        self._kb = kb
        self._spent: tuple[date, float] | None = None  # (day, USD spent that day), for the daily cap
        self._system: tuple[date, str, int] | None = None  # (day, rendered prompt, its tokens)
        self._locks = KeyedLocks()

    async def handle(self, msg: IncomingMessage) -> AsyncGenerator[ReplyEvent, None]:
        """Answer one message. Yields nothing for a duplicate delivery or a conversation a person has;
        else Accepted first and ReplyDone last.

        Consume it with contextlib.aclosing(): the thread's lock is held until the stream ends.
        """
        stored = await self._store.record_inbound(msg, self._counter.count(msg.text))
        if stored is None:
            log.info("duplicate delivery of %s message %s dropped", msg.key.platform, msg.message_id)
            return
        # What the store said of the conversation holds unless we wait for the lock (then an
        # earlier message may have handed it over meanwhile): ask again only in that case.
        waited = self._locks.busy(msg.key)
        async with self._locks.hold(msg.key):
            if stored.handed_over or (
                waited and await self._store.current_escalation(stored.conversation_id) is not None
            ):
                # A person has (or is about to take) this conversation: the bot stays silent.
                await self._store.set_status(stored.id, MessageStatus.HANDED_OVER)
                log.info("message %s left to staff (conversation escalated)", stored.id)
                if self._handoff is not None:
                    try:
                        await self._handoff.user_wrote(
                            msg.key, stored.conversation_id, msg.user_name or msg.user_id, msg.text
                        )
                    except Exception:  # the message is stored; staff can still read it in history
                        log.exception("relaying message %s to the staff thread failed", stored.id)
                return
            yield Accepted()
            if self._escalations.wants_human(stored.text):
                yield await self._escalate_on_keyword(msg, stored)
                return
            async for event in self._answer(msg, stored):
                yield event

    async def recover(self, inbound: StoredMessage, key: ThreadKey) -> ReplyDone | None:
        """Answer a message stored before a stop but never answered; None if it no longer needs one.

        The reply comes back whole (no platform stream is open for it); the caller posts it.
        """
        msg = IncomingMessage(
            key=key,
            message_id=inbound.platform_message_id or "",
            user_id=inbound.user_id,
            user_name=inbound.user_name,
            text=inbound.text,
            is_dm=False,
            received_at=inbound.created_at,
        )
        async with self._locks.hold(key):
            if await self._store.current_escalation(inbound.conversation_id) is not None:
                await self._store.set_status(inbound.id, MessageStatus.HANDED_OVER)
                return None
            done: ReplyDone | None = None
            async for event in self._answer(msg, inbound):
                if isinstance(event, ReplyDone):
                    done = event
            return done

    async def mark_delivered(self, reply_id: int, platform_message_id: str | None) -> None:
        await self._store.mark_delivered(reply_id, platform_message_id)

    async def mark_delivery_failed(self, reply_id: int, error: str) -> None:
        log.warning("reply %s was not delivered: %s", reply_id, error)
        await self._store.set_status(reply_id, MessageStatus.FAILED, error)

    async def _escalate_on_keyword(self, msg: IncomingMessage, inbound: StoredMessage) -> ReplyDone:
        try:
            outcome = await self._escalations.escalate(
                msg.key, user_id=msg.user_id, reason=inbound.text, trigger=Trigger.KEYWORD
            )
            text = outcome.message
        except EscalationError as exc:
            text = str(exc)
        reply_id = await self._store.record_reply(
            inbound, Role.NOTICE, text, 0, None, settles=MessageStatus.HANDED_OVER
        )
        return ReplyDone(text, ReplyStatus.ESCALATED, reply_id)

    async def _answer(self, msg: IncomingMessage, inbound: StoredMessage) -> AsyncIterator[ReplyEvent]:
        if not inbound.text.strip():
            yield await self._notice(inbound, EMPTY_MESSAGE, ReplyStatus.REFUSED, "empty")
            return
        recent = await self._store.history(
            inbound.conversation_id, inbound.id, self._settings.llm.history_limit
        )
        found = await self._retrieve(inbound, recent)
        if self._llm is None:
            yield await self._without_llm(msg, inbound, found, "no_llm")
            return
        if await self._over_budget():
            yield await self._without_llm(msg, inbound, found, "budget")
            return
        system, system_tokens = self._system_prompt()
        grounded = found is not None and not found.abstain and bool(found.hits)
        material = ""
        if found is not None:
            material = (
                reference_block(found.hits, self._settings.kb.max_context_chars)
                if grounded
                else NO_MATERIAL_RULES
            )
        budget = (
            self._settings.context_window()
            - self._settings.llm.max_tokens
            - self._settings.llm.context_margin
            - system_tokens
            - (self._counter.count(material) if material else 0)
        )
        if inbound.tokens > budget:
            text = (
                f"Your message is about {inbound.tokens:,} tokens long, and I can read at most"
                f" {max(budget, 0):,} at once. Could you shorten it or send it in parts?"
            )
            yield await self._notice(inbound, text, ReplyStatus.REFUSED, "too_long")
            return
        history = self._fit_history(recent, budget - inbound.tokens)
        turns = [(turn.role is Role.USER, turn.text) for turn in history]
        messages = request_messages(system, turns, material, inbound.text)

        parts: list[str] = []
        usage: CompletionUsage | None = None
        handover: ToolCall | None = None
        tools = [ESCALATE_TOOL] if self._settings.llm.escalation_tool else []
        try:
            async for chunk in self._llm.stream(messages, tools):
                if isinstance(chunk, str):
                    parts.append(chunk)
                    yield TextDelta(chunk)
                elif isinstance(chunk, ToolCall):
                    handover = chunk if chunk.name == TOOL_NAME else handover
                else:
                    usage = chunk
        except LLMError as exc:
            log.warning("LLM call for message %s failed: %s", inbound.id, exc)
            yield await self._without_llm(msg, inbound, found, exc.kind.value, APOLOGIES[exc.kind])
            return
        answer = "".join(parts).strip()
        if handover is not None:
            yield await self._escalate_by_model(msg, inbound, answer, handover, self._cost(usage))
            return
        if not answer:
            kind = LLMErrorKind.SERVER
            yield await self._without_llm(msg, inbound, found, "empty_response", APOLOGIES[kind])
            return
        footer = ""
        if grounded and found is not None:
            # An answer that cites nothing is the model saying the material doesn't cover it.
            footer = sources_footer(answer, found.hits) or f"\n\n{offer_human(msg.key.platform)}"
        elif found is not None:
            footer = f"\n\n{offer_human(msg.key.platform)}"
        if footer:
            yield TextDelta(footer)
            answer += footer
        cost = self._cost(usage)
        if cost is not None and cost.cost_usd and self._spent is not None:
            self._spent = (self._spent[0], self._spent[1] + cost.cost_usd)
        reply_id = await self._store.record_reply(
            inbound, Role.ASSISTANT, answer, self._counter.count(answer), cost, settles=MessageStatus.ANSWERED
        )
        yield ReplyDone(answer, ReplyStatus.ANSWERED, reply_id, cost)

    async def _escalate_by_model(
        self, msg: IncomingMessage, inbound: StoredMessage, said: str, call: ToolCall, cost: Usage | None
    ) -> ReplyDone:
        """The model called escalate_to_human: hand over and tell the user what happens next."""
        try:
            outcome = await self._escalations.escalate(
                msg.key, user_id=msg.user_id, reason=tool_reason(call.arguments), trigger=Trigger.MODEL
            )
            note = outcome.message
        except EscalationError as exc:
            note = str(exc)
        text = f"{said}\n\n{note}" if said else note
        reply_id = await self._store.record_reply(
            inbound, Role.ASSISTANT, text, self._counter.count(text), cost, settles=MessageStatus.HANDED_OVER
        )
        return ReplyDone(text, ReplyStatus.ESCALATED, reply_id, cost)

    async def _without_llm(
        self,
        msg: IncomingMessage,
        inbound: StoredMessage,
        found: SearchResult | None,
        reason: str,
        apology: str = "",
    ) -> ReplyDone:
        """Answer from the knowledge base alone (best passages), else apologise; offer a person."""
        offer = offer_human(msg.key.platform)
        if found is not None and not found.abstain and found.hits:
            lead = PASSAGES_LEAD.get(reason) or (
                f"{apology} Meanwhile, these passages from our help center look relevant:"
            )
            passage = found.hits[0].text
            if self._kb is not None:
                passage = await self._kb.passage(found.hits[0], PASSAGE_CHARS)
            text = passages_answer(lead, found.hits, passage, offer)
        elif found is not None and reason in PASSAGES_LEAD:
            text = f"{NOT_FOUND} {offer}"
        elif reason == "no_llm":
            text = APOLOGIES[LLMErrorKind.NOT_CONFIGURED]
        else:
            text = f"{apology} {offer}"
        if reason == "no_llm" and found is not None:
            # The designed no-LLM mode: the message got the best answer this setup can give.
            reply_id = await self._store.record_reply(
                inbound, Role.NOTICE, text, 0, None, settles=MessageStatus.ANSWERED
            )
            return ReplyDone(text, ReplyStatus.ANSWERED, reply_id)
        return await self._notice(inbound, text, ReplyStatus.FAILED, reason)

    def _system_prompt(self) -> tuple[str, int]:
        """Today's rendered system prompt and its token count, computed once a day."""
        today = self._today()
        if self._system is None or self._system[0] != today:
            text = render_system_prompt(
                self._system_template,
                bot_name=self._settings.bot.name,
                company=self._settings.bot.company,
                today=today,
            )
            self._system = (today, text, self._counter.count(text))
        return self._system[1], self._system[2]

    async def _over_budget(self) -> bool:
        """True once today's recorded LLM cost reaches llm.daily_budget_usd (0 = no cap)."""
        cap = self._settings.llm.daily_budget_usd
        if cap <= 0:
            return False
        today = self._today()
        if self._spent is None or self._spent[0] != today:
            since = datetime(today.year, today.month, today.day, tzinfo=UTC)
            self._spent = (today, await self._store.cost_since(since))
        return self._spent[1] >= cap

    async def _retrieve(
        self, inbound: StoredMessage, newest_first: list[StoredMessage]
    ) -> SearchResult | None:
        """Help-center pages for this message; a follow-up ("and on mobile?") that finds nothing on
        its own is searched again together with the user's previous message."""
        if self._kb is None:
            return None
        found = await self._kb.search(inbound.text)
        previous = next((t for t in newest_first if t.role is Role.USER), None)
        # Only short messages lean on the previous one: a new full question stands on its own.
        if found.abstain and previous is not None and len(query_terms(inbound.text)) <= FOLLOW_UP_TERMS:
            again = await self._kb.search(f"{previous.text}\n{inbound.text}")
            if not again.abstain:
                return again
        return found

    @staticmethod
    def _fit_history(newest_first: list[StoredMessage], budget: int) -> list[StoredMessage]:
        """The newest turns that fit in `budget` tokens, oldest first; older turns are dropped."""
        kept: list[StoredMessage] = []
        for turn in newest_first:
            if turn.tokens > budget:
                break
            budget -= turn.tokens
            kept.append(turn)
        kept.reverse()
        # A reply without its question reads oddly to the model: start on a user turn.
        while kept and kept[0].role is not Role.USER:
            kept.pop(0)
        return kept

    def _cost(self, usage: CompletionUsage | None) -> Usage | None:
        if usage is None:
            return None
        info = self._settings.models.get(usage.model)
        cost = None
        if info is not None:
            cost = (
                usage.prompt_tokens * info.input_per_1k + usage.completion_tokens * info.output_per_1k
            ) / 1000
        return Usage(usage.model, usage.prompt_tokens, usage.completion_tokens, cost)

    async def _notice(self, inbound: StoredMessage, text: str, status: ReplyStatus, error: str) -> ReplyDone:
        """Record a non-answer (apology or refusal) and mark the inbound message failed."""
        reply_id = await self._store.record_reply(
            inbound, Role.NOTICE, text, 0, None, settles=MessageStatus.FAILED, error=error
        )
        return ReplyDone(text, status, reply_id)
