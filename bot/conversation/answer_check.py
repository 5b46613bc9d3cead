"""Would the bot answer? Asks the model a question with its retrieved passages, in the request a
live answer sends (same system prompt, reference block and question, but no history and no
escalation tool), and calls it a decline when the answer cites no passage (`kb eval --with-llm`).

With a model configured, that is how the bot abstains: the closest passages always reach it (marked
weak when retrieval isn't confident), it is told to say so when they don't answer, and such an
answer cites nothing.
"""

from __future__ import annotations

from bot.conversation.grounding import reference_block, sources_footer
from bot.conversation.prompt import request_messages
from bot.kb import KBSettings, SearchResult
from bot.kb.evaluate import JudgeError, Question
from bot.llm.client import LLMClient, LLMError


class ModelCheck:
    """A `Judge` for `bot.kb.evaluate`: True when the model's answer cites none of the passages."""

    def __init__(self, llm: LLMClient, system_prompt: str, kb: KBSettings) -> None:
        self._llm = llm
        self._system = system_prompt
        self._kb = kb

    async def __call__(self, question: Question, found: SearchResult) -> bool:
        if not found.hits:
            return True  # the model would get no material at all
        hits = found.hits[: self._kb.top_k]  # a live answer's search returns top_k hits
        # As in a live answer: the closest passages reach the model, marked weak when retrieval
        # isn't confident, and the model's answer is the decision.
        material = reference_block(hits, self._kb.max_context_chars, weak=found.abstain)
        try:
            answer = await self._llm.complete(request_messages(self._system, [], material, question.question))
        except LLMError as exc:
            raise JudgeError(f"the model check of question {question.id} failed: {exc}") from exc
        return not sources_footer(answer, hits)
