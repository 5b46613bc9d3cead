"""The learning loop: when staff resolve an escalation in which they answered, the question and their
answer become a proposed help entry (drafted by the model when one is configured, else the raw
exchange); staff save, edit or discard it (under the card, or `supportbot kb learned`), and saved
entries are indexed as the knowledge-base source `learned`, cited like any page."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

from bot.conversation.grounding import LEARNED_SOURCE, learned_page_name
from bot.handoff.states import Trigger
from bot.kb import KnowledgeBase
from bot.llm.client import LLMClient, LLMError
from bot.storage.store import (
    ConversationStore,
    EscalationRecord,
    LearnedEntry,
    LearnedStatus,
    Role,
    StoredMessage,
)

log = logging.getLogger(__name__)

TRANSCRIPT_MESSAGES = 200  # of one conversation, read to find the question and the staff answer
DRAFT_PROMPT = (
    "Turn this support exchange into a help-center entry. Reply with JSON only:"
    ' {"question": "<the customer\'s question, general, one sentence>",'
    ' "answer": "<the support team\'s answer as instructions anyone can follow, no names,'
    ' no personal details>"}. Use only what the support team said.'
)


def question_and_answer(record: EscalationRecord, transcript: list[StoredMessage]) -> tuple[str, str] | None:
    """The user's question that led to the escalation and what staff answered during it; None
    when no staff message was written."""
    during = [m for m in transcript if m.created_at >= record.requested_at]
    staff = [m.text for m in during if m.role is Role.STAFF]
    if not staff:
        return None
    before = [m for m in transcript if m.role is Role.USER and m.created_at <= record.requested_at]
    if record.trigger is Trigger.KEYWORD and len(before) > 1:
        before = before[:-1]  # that message was the request for a person, not the question
    asked = before[-1].text if before else next((m.text for m in during if m.role is Role.USER), "")
    if not asked.strip():
        return None
    return asked.strip(), "\n\n".join(text.strip() for text in staff)


def render_page(entry: LearnedEntry) -> str:
    """An approved entry as the Markdown page indexed under `learned`."""
    return f"# {' '.join(entry.question.split())}\n\n{entry.answer.strip()}\n"


class Learning:
    """Proposes help entries from staff answers and keeps the `learned` source in step with the
    approved ones (written as pages into `folder`, then indexed)."""

    def __init__(
        self, store: ConversationStore, kb: KnowledgeBase | None, llm: LLMClient | None, folder: Path
    ) -> None:
        self._store = store
        self._kb = kb
        self._llm = llm
        self._folder = folder

    async def propose(self, record: EscalationRecord) -> LearnedEntry | None:
        """A proposed entry from a resolved escalation's staff answer; None when staff didn't
        answer in the conversation (or it was proposed before)."""
        transcript = await self._store.messages(record.conversation_id, TRANSCRIPT_MESSAGES)
        found = question_and_answer(record, transcript)
        if found is None:
            return None
        question, answer = found
        drafted_by = "exchange"
        drafted = await self._draft(question, answer)
        if drafted is not None:
            question, answer, drafted_by = drafted[0], drafted[1], "model"
        return await self._store.propose_learned(
            record.id, record.conversation_id, question, answer, drafted_by
        )

    async def _draft(self, question: str, answer: str) -> tuple[str, str] | None:
        if self._llm is None:
            return None
        exchange = f"Customer: {question}\n\nSupport team: {answer}"
        try:
            text = await self._llm.complete(
                [{"role": "system", "content": DRAFT_PROMPT}, {"role": "user", "content": exchange}]
            )
            parsed = json.loads(text.strip().removeprefix("```json").strip("`\n "))
        except (LLMError, json.JSONDecodeError, ValueError) as exc:
            log.warning("learned entry: the model's draft is unavailable (%s); proposing the exchange", exc)
            return None
        if not isinstance(parsed, dict):
            return None
        q, a = str(parsed.get("question", "")).strip(), str(parsed.get("answer", "")).strip()
        return (q, a) if q and a else None

    async def approve(self, entry_id: int, by: str, *, answer: str | None = None) -> LearnedEntry | None:
        """Save a proposed entry (with `answer` replacing its text) and index it; None when it is
        not a proposed entry."""
        entry = await self._store.decide_learned(entry_id, LearnedStatus.APPROVED, by, answer=answer)
        if entry is not None:
            await self.reindex()
        return entry

    async def discard(self, entry_id: int, by: str) -> LearnedEntry | None:
        return await self._store.decide_learned(entry_id, LearnedStatus.DISCARDED, by)

    async def reindex(self) -> None:
        """Write every approved entry as a page and index the folder as the source `learned`."""
        if self._kb is None:
            log.warning("learned entries are not indexed: the knowledge base is off (kb.enabled)")
            return
        approved = await self._store.learned_entries(LearnedStatus.APPROVED)
        await asyncio.to_thread(self._write_pages, approved)
        await self._kb.add(self._folder, name=LEARNED_SOURCE)

    def _write_pages(self, entries: list[LearnedEntry]) -> None:
        self._folder.mkdir(parents=True, exist_ok=True)
        wanted = {learned_page_name(e.id, (e.decided_at or e.created_at).date()): e for e in entries}
        for stale in self._folder.glob("*.md"):
            if stale.name not in wanted:
                stale.unlink()
        for name, entry in wanted.items():
            page = self._folder / name
            text = render_page(entry)
            if not page.exists() or page.read_text(encoding="utf-8") != text:
                page.write_text(text, encoding="utf-8")
