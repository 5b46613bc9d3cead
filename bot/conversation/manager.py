"""The conversation manager: stores each message, builds the prompt from history, streams the answer.

One lock per ThreadKey keeps a thread's messages answered in arrival order, each seeing the
exchanges before it. Every inbound message ends answered or failed; failures become a short apology.
The path of one message reads top to bottom in `receive`, `answer` and `_answer`; the texts are in
fallback.py, what the model reads in context.py, what it costs in spending.py.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, aclosing
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from bot.analytics.grounding import grounding_of
from bot.conversation.context import SystemPrompt, fit_history, retrieve, spoken
from bot.conversation.deadline import by_deadline
from bot.conversation.fallback import (
    APOLOGIES,
    EMPTY_MESSAGE,
    MODERATED,
    MODERATION_UNAVAILABLE,
    NO_LLM,
    not_covered,
    too_fast,
    too_long,
    too_many_chars,
    without_model,
)
from bot.conversation.grounding import (
    NO_MATERIAL_RULES,
    PASSAGE_CHARS,
    lines_tokens,
    reference_lines,
    sources_footer,
)
from bot.conversation.limits import UserRate
from bot.conversation.locks import KeyedLocks
from bot.conversation.prompt import request_messages
from bot.conversation.smalltalk import small_talk
from bot.conversation.spending import Spending, price
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
from bot.llm.client import CompletionUsage, LLMClient, LLMError, LLMErrorKind, ToolCall
from bot.llm.moderation import Moderator, Verdict
from bot.llm.tokens import MESSAGE_OVERHEAD, TokenCounter
from bot.logs import in_conversation
from bot.ops.metrics import Metrics
from bot.pii import Redactor, keep
from bot.settings import Settings
from bot.storage.store import TOO_FAST, ConversationStore, Grounding, MessageStatus, Role, StoredMessage

if TYPE_CHECKING:  # the SDK loads with the first LLM client, not with this module
    from openai.types.chat import ChatCompletionMessageParam

log = logging.getLogger(__name__)

PASSAGES_REMEMBERED = 512  # passages, and the rules and tags cut at the boundary, counted once: ~1 MB at most
Named = Callable[[], Awaitable[str]]  # looks up the sender's display name


@dataclass(frozen=True, slots=True)
class Received:
    """A message stored (not a duplicate) and waiting for its answer."""

    msg: IncomingMessage
    stored: StoredMessage
    # When it was stored, on time.monotonic() (the platform's timestamp may come from another clock).
    at: float = field(default_factory=time.monotonic)


@dataclass
class _ModelReply:
    """What the model sent for one answer, gathered while its text streams."""

    parts: list[str] = field(default_factory=list)
    usage: CompletionUsage | None = None
    handover: ToolCall | None = None  # the model called escalate_to_human

    @property
    def text(self) -> str:
        return "".join(self.parts).strip()


def _confident(found: SearchResult | None) -> bool:
    """Retrieval is sure enough to answer from its best page without a model."""
    return found is not None and not found.abstain and bool(found.hits)


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
        moderator: Moderator | None = None,
        today: Callable[[], date] = lambda: datetime.now(UTC).date(),
        metrics: Metrics | None = None,
    ) -> None:
        self._metrics = metrics if metrics is not None else Metrics()
        self._store = store
        self._llm = llm
        self._counter = counter
        self._settings = settings
        self._escalations = escalations
        self._handoff = handoff
        self._kb = kb
        self._moderator = moderator
        self._system = SystemPrompt(system_prompt, settings, counter, today)
        self._passage_tokens = functools.lru_cache(maxsize=PASSAGES_REMEMBERED)(counter.tokens)
        self._spend = Spending(store, settings, today)
        self._locks = KeyedLocks(store.hold_thread)  # across processes too, where they share the store
        self._rate = UserRate(store, settings.limits.user_messages_per_minute)
        privacy = settings.privacy
        self._to_model = Redactor(privacy.phone_region) if privacy.applies_to("llm") else keep

    async def receive(self, msg: IncomingMessage) -> Received | None:
        """Store one message, before the platform is told it arrived; None for a duplicate delivery.

        Only the store's write happens here (no name lookup, no model): the adapter awaits it before
        its ack, then answers with `answer`.
        """
        stored = await self._store.record_inbound(msg, self._counter.count(msg.text))
        if stored is None:
            log.info("duplicate delivery of %s message %s dropped", msg.key.platform, msg.message_id)
            self._metrics.duplicates.labels(msg.key.platform).inc()
            return None
        return Received(msg, stored)

    async def answer(
        self, received: Received, named: Named | None = None
    ) -> AsyncGenerator[ReplyEvent, None]:
        """Answer a received message. Yields nothing for a conversation a person has; else Accepted
        first and ReplyDone last. `named` looks up the sender's name (stored with it) once the
        thread's turn has come.

        Consume it with contextlib.aclosing(): the thread's lock is held until the stream ends.
        """
        msg, stored = received.msg, received.stored
        in_conversation(stored.conversation_id)  # named on the log lines from here on
        # What the store said of the conversation holds unless we wait for the lock (then an
        # earlier message may have handed it over meanwhile): ask again only in that case.
        waited = self._locks.busy(msg.key)
        async with self._locks.hold(msg.key):
            if stored.handed_over or (
                waited and await self._store.current_escalation(stored.conversation_id) is not None
            ):
                await self._leave_to_staff(await self._named(msg, stored, named), stored)
                return
            yield Accepted()
            msg = await self._named(msg, stored, named)
            if self._escalations.wants_human(stored.text):
                yield await self._escalate_on_keyword(msg, stored)
                return
            async for event in self._answer(msg, stored):
                yield event

    async def handle(self, msg: IncomingMessage) -> AsyncGenerator[ReplyEvent, None]:
        """`receive` and `answer` in one (the console, which has no platform to acknowledge)."""
        received = await self.receive(msg)
        if received is None:
            return
        async with aclosing(self.answer(received)) as events:
            async for event in events:
                yield event

    async def _named(
        self, msg: IncomingMessage, stored: StoredMessage, named: Named | None
    ) -> IncomingMessage:
        """The message with its sender's name looked up (and stored), when there is a lookup."""
        if named is None:
            return msg
        try:
            name = await named()
        except Exception as exc:  # a name is a courtesy: the message is answered without one
            log.info("looking up the name of %s failed: %s", msg.user_id, exc)
            return msg
        if not name or name == msg.user_name:
            return msg
        await self._store.set_user_name(stored.id, name)
        return replace(msg, user_name=name)

    def turn(self, key: ThreadKey) -> AbstractAsyncContextManager[None]:
        """The conversation's turn, as an answer holds it (across processes on a shared store): the
        outbox delivers a left-over reply in it, so no live answer of that thread is half-posted."""
        return self._locks.hold(key)

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

    # -- the steps of one answer ------------------------------------------------------------------

    async def _leave_to_staff(self, msg: IncomingMessage, stored: StoredMessage) -> None:
        """A person has (or is about to take) this conversation: the bot stays silent, and a DM's
        message is copied to the staff thread."""
        await self._store.set_status(stored.id, MessageStatus.HANDED_OVER)
        log.info("message %s left to staff (conversation escalated)", stored.id)
        if self._handoff is None:
            return
        try:
            await self._handoff.user_wrote(
                msg.key, stored.conversation_id, msg.user_name or msg.user_id, msg.text
            )
        except Exception:  # the message is stored; staff can still read it in history
            log.exception("relaying message %s to the staff thread failed", stored.id)

    async def _answer(self, msg: IncomingMessage, inbound: StoredMessage) -> AsyncIterator[ReplyEvent]:
        """Refuse an empty or oversized message, else ask the model with the help center's passages
        and the history that fits; without a model (or past the budget) answer from the passages."""
        refused = await self._refusal(msg, inbound)
        if refused is not None:
            yield await self._notice(inbound, refused[1], ReplyStatus.REFUSED, refused[0])
            return
        chat = small_talk(inbound.text) if self._settings.bot.small_talk else None
        if chat is not None:  # "thanks!": a friendly word back, no search and no model call
            reply_id = await self._store.record_reply(
                inbound, Role.ASSISTANT, chat, self._counter.count(chat), None, settles=MessageStatus.ANSWERED
            )
            yield ReplyDone(chat, ReplyStatus.ANSWERED, reply_id)
            return
        recent = await self._store.history(
            inbound.conversation_id, inbound.id, self._settings.llm.history_limit
        )
        found = await retrieve(self._kb, inbound.text, recent)
        if found is not None and found.abstain:
            self._metrics.kb_abstentions.inc()
        if self._llm is None:
            yield await self._without_llm(msg, inbound, found, NO_LLM)
            return
        material, material_tokens = self._material(found)
        budget = self._history_budget(material_tokens)
        if inbound.tokens > budget:
            yield await self._notice(
                inbound, too_long(inbound.tokens, budget), ReplyStatus.REFUSED, "too_long"
            )
            return
        history = fit_history(recent, budget - inbound.tokens)
        turns = [(turn.role is Role.USER, self._to_model(spoken(turn))) for turn in history]
        question = self._to_model(inbound.text)
        messages = request_messages(self._system.today()[0], turns, material, question)
        prompt_tokens = self._prompt_room() - budget + inbound.tokens + sum(t.tokens for t in history)
        async for event in self._within_budget(msg, inbound, found, messages, prompt_tokens):
            yield event

    async def _within_budget(
        self,
        msg: IncomingMessage,
        inbound: StoredMessage,
        found: SearchResult | None,
        messages: list[ChatCompletionMessageParam],
        prompt_tokens: int,
    ) -> AsyncIterator[ReplyEvent]:
        """Moderate the message if so configured; reserve the call's worst case against today's caps
        (so answers running at once can't all pass the check and overshoot), ask, then settle with
        what it used."""
        assert self._llm is not None
        if self._moderator is not None:  # moderation.enabled: the message is checked first
            verdict = await self._moderator.check(self._to_model(inbound.text))
            if verdict is not Verdict.ALLOWED:
                text = MODERATED if verdict is Verdict.FLAGGED else MODERATION_UNAVAILABLE
                yield await self._notice(inbound, text, ReplyStatus.REFUSED, verdict.value)
                return
        user = (msg.key.platform, msg.user_id)
        hold = await self._spend.reserve(user, prompt_tokens, self._settings.llm.max_tokens)
        if isinstance(hold, str):
            log.info("message %s answered without the model: over a daily cap (%s)", inbound.id, hold)
            yield await self._without_llm(msg, inbound, found, hold)
            return
        reply = _ModelReply()
        try:
            try:
                async for delta in self._ask(self._llm, messages, reply):
                    yield TextDelta(delta)
            except LLMError as exc:
                log.warning("LLM call for message %s failed: %s", inbound.id, exc)
                yield await self._without_llm(msg, inbound, found, exc.reason, APOLOGIES[exc.kind])
                return
            async for event in self._conclude(msg, inbound, found, reply):
                yield event
        finally:
            await self._spend.settle(hold, price(reply.usage, self._settings.models))

    async def _refusal(self, msg: IncomingMessage, inbound: StoredMessage) -> tuple[str, str] | None:
        """(reason, what to say) when the message is refused before any retrieval or model call."""
        limits = self._settings.limits
        if not inbound.text.strip():
            return "empty", EMPTY_MESSAGE
        if len(inbound.text) > limits.max_message_chars:
            return "too_long", too_many_chars(len(inbound.text), limits.max_message_chars)
        # The console is the operator's own terminal (and scripts pipe many questions into it).
        if msg.key.platform != "console" and not await self._rate.allow(msg.key.platform, inbound):
            log.info("message %s refused: over limits.user_messages_per_minute", inbound.id)
            self._metrics.rate_limited.labels(msg.key.platform).inc()
            return TOO_FAST, too_fast(limits.user_messages_per_minute)
        return None

    def _material(self, found: SearchResult | None) -> tuple[str, int]:
        """The reference material for the model and its tokens as a message: the passages (the
        closest ones marked weak when retrieval isn't confident: the model judges whether they
        answer), or the rules for none."""
        if found is None:
            return "", 0
        if not found.hits:
            return NO_MATERIAL_RULES, self._counter.count(NO_MATERIAL_RULES)
        reference = reference_lines(found.hits, self._settings.kb.max_context_chars, weak=found.abstain)
        tokens = MESSAGE_OVERHEAD + lines_tokens(reference, self._counter.tokens, self._passage_tokens)
        return reference.text(), tokens

    def _prompt_room(self) -> int:
        """Tokens a request may hold before the answer's own max_tokens and the margin."""
        llm = self._settings.llm
        return self._settings.context_window() - llm.max_tokens - llm.context_margin

    def _history_budget(self, material_tokens: int) -> int:
        """Tokens left for the question and its history once the prompt and material are counted."""
        llm = self._settings.llm
        fixed = self._system.today()[1] + material_tokens
        return self._settings.context_window() - llm.max_tokens - llm.context_margin - fixed

    async def _ask(
        self, llm: LLMClient, messages: list[ChatCompletionMessageParam], reply: _ModelReply
    ) -> AsyncIterator[str]:
        """Stream the model's text; its usage and any call of the escalation tool land in `reply`.

        Waiting for the model, its retries included, may take llm.answer_deadline_s in all (no
        attempt's timeout is longer); past it LLMError (reason "deadline"), whatever was streamed.
        """
        s = self._settings.llm
        tools = [ESCALATE_TOOL] if s.escalation_tool else []
        chunks = llm.stream(messages, tools, timeout_s=min(s.timeout_s, s.answer_deadline_s))
        async with aclosing(by_deadline(chunks, s.answer_deadline_s)) as bounded:
            async for chunk in bounded:
                if isinstance(chunk, str):
                    reply.parts.append(chunk)
                    yield chunk
                elif isinstance(chunk, ToolCall):
                    reply.handover = chunk if chunk.name == TOOL_NAME else reply.handover
                else:
                    reply.usage = chunk

    async def _conclude(
        self, msg: IncomingMessage, inbound: StoredMessage, found: SearchResult | None, reply: _ModelReply
    ) -> AsyncIterator[ReplyEvent]:
        """The model has finished: hand over if it asked to, apologise if it said nothing, else add
        the Sources (or the offer of a person) and store the answer."""
        cost = price(reply.usage, self._settings.models)
        answer = reply.text
        if reply.handover is not None:
            yield await self._escalate_by_model(msg, inbound, answer, reply.handover, cost)
            return
        if not answer:
            kind = LLMErrorKind.SERVER
            yield await self._without_llm(msg, inbound, found, "empty_response", APOLOGIES[kind])
            return
        footer = self._footer(msg.key.platform, answer, found)
        if footer:
            yield TextDelta(footer)
            answer += footer
        reply_id = await self._store.record_reply(
            inbound, Role.ASSISTANT, answer, self._counter.count(answer), cost, settles=MessageStatus.ANSWERED
        )
        await self._store.record_answer_facts(reply_id, grounding=grounding_of(found, answer))
        yield ReplyDone(answer, ReplyStatus.ANSWERED, reply_id, cost)

    @staticmethod
    def _footer(platform: str, answer: str, found: SearchResult | None) -> str:
        """The Sources the answer cited; an answer that cites nothing is the model saying the
        material doesn't cover it, so it (like one with no material) says so and offers a person."""
        if found is None:
            return ""
        return sources_footer(answer, found.hits) or f"\n\n{not_covered(platform)}"

    async def _escalate_on_keyword(self, msg: IncomingMessage, inbound: StoredMessage) -> ReplyDone:
        text = await self._escalate(msg, inbound.text, Trigger.KEYWORD)
        reply_id = await self._store.record_reply(
            inbound, Role.NOTICE, text, 0, None, settles=MessageStatus.HANDED_OVER
        )
        return ReplyDone(text, ReplyStatus.ESCALATED, reply_id)

    async def _escalate_by_model(
        self, msg: IncomingMessage, inbound: StoredMessage, said: str, call: ToolCall, cost: Usage | None
    ) -> ReplyDone:
        """The model called escalate_to_human: hand over and tell the user what happens next."""
        note = await self._escalate(msg, tool_reason(call.arguments), Trigger.MODEL)
        text = f"{said}\n\n{note}" if said else note
        reply_id = await self._store.record_reply(
            inbound, Role.ASSISTANT, text, self._counter.count(text), cost, settles=MessageStatus.HANDED_OVER
        )
        return ReplyDone(text, ReplyStatus.ESCALATED, reply_id, cost)

    async def _escalate(self, msg: IncomingMessage, reason: str, trigger: Trigger) -> str:
        try:
            outcome = await self._escalations.escalate(
                msg.key, user_id=msg.user_id, reason=reason, trigger=trigger
            )
        except EscalationError as exc:
            return str(exc)
        return outcome.message

    async def _without_llm(
        self,
        msg: IncomingMessage,
        inbound: StoredMessage,
        found: SearchResult | None,
        reason: str,
        apology: str = "",
    ) -> ReplyDone:
        """Answer from the knowledge base alone (best passages), else apologise; offer a person."""
        passage = None
        if _confident(found) and found is not None and self._kb is not None:
            passage = await self._kb.excerpt(found.hits[0], found.query, PASSAGE_CHARS, msg.key.platform)
        hits = None if found is None else found.hits
        text = without_model(msg.key.platform, reason, apology, hits, passage)
        grounding = Grounding.NO_MODEL if passage is not None else Grounding.NOTHING_FOUND
        if reason == NO_LLM and found is not None:
            # The designed no-LLM mode: the message got the best answer this setup can give.
            reply_id = await self._store.record_reply(
                inbound, Role.NOTICE, text, 0, None, settles=MessageStatus.ANSWERED
            )
            await self._store.record_answer_facts(reply_id, grounding=grounding)
            return ReplyDone(text, ReplyStatus.ANSWERED, reply_id)
        done = await self._notice(inbound, text, ReplyStatus.FAILED, reason)
        if done.reply_id is not None:
            await self._store.record_answer_facts(done.reply_id, grounding=grounding)
        return done

    async def _notice(self, inbound: StoredMessage, text: str, status: ReplyStatus, error: str) -> ReplyDone:
        """Record a non-answer (apology or refusal) and mark the inbound message failed."""
        reply_id = await self._store.record_reply(
            inbound, Role.NOTICE, text, 0, None, settles=MessageStatus.FAILED, error=error
        )
        return ReplyDone(text, status, reply_id)
