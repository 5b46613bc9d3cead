"""Retrieval by mode: with a model the closest passages always reach it (marked weak when retrieval
isn't confident) and its answer decides; without one, weak matches are offered only as such.
Also small talk (no search, no model) and follow-ups that stand on their own."""

from __future__ import annotations

from pathlib import Path

from bot.app import running_app
from bot.events import ReplyStatus
from tests.conftest import ConfigFactory
from tests.conversation.test_grounding import KB_TOML, write_kb
from tests.fakes.openai_server import FakeOpenAI
from tests.helpers import ask, message

# "refund" matches the Refunds page, "paypal" and "crypto" match nothing: a weak match.
WEAK = "can I get a refund in paypal or crypto or gold bars?"


async def test_weak_matches_reach_the_model_marked_weak(
    make_config: ConfigFactory, fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    write_kb(tmp_path)
    fake_openai.reply = lambda request: "The help center doesn't cover refunds in gold bars."
    async with running_app(make_config(KB_TOML, kb=True)) as app:
        assert app.kb is not None
        found = await app.kb.search(WEAK)
        assert found.abstain and found.hits  # not confident, but there are closest matches
        _, done = await ask(app.manager, message(WEAK))
    material = fake_openai.requests[0]["messages"][-2]["content"]
    assert 'title="Refunds"' in material and 'match="weak"' in material
    assert "no strong match" in material
    assert done is not None and done.status is ReplyStatus.ANSWERED
    assert done.text.endswith(
        "Our help center doesn't seem to cover this."
        " If you'd like, I can bring in a person from the team: type /escalate."
    )


async def test_confident_matches_reach_the_model_unmarked(
    make_config: ConfigFactory, fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    write_kb(tmp_path)
    async with running_app(make_config(KB_TOML, kb=True)) as app:
        await ask(app.manager, message("how do I export my boards to CSV"))
    material = fake_openai.requests[0]["messages"][-2]["content"]
    assert 'title="Export your boards"' in material and 'match="weak"' not in material


async def test_without_a_model_weak_matches_are_offered_as_closest_matches_only(
    make_config: ConfigFactory, fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    write_kb(tmp_path)
    async with running_app(make_config(KB_TOML, kb=True, llm=False)) as app:
        _, done = await ask(app.manager, message(WEAK))
    assert done is not None and done.status is ReplyStatus.ANSWERED
    assert done.text == (
        "I couldn't find a clear answer to that. The closest matches in our help center — they may"
        " not answer your question:\n"
        "• Refunds — https://help.example.com/refunds\n\n"
        "If you'd like, I can bring in a person from the team: type /escalate."
    )
    assert "within 30 days" not in done.text  # never offered as the answer


async def test_small_talk_gets_a_friendly_word_without_search_or_model(
    make_config: ConfigFactory, fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    write_kb(tmp_path)
    for llm in (True, False):
        async with running_app(make_config(KB_TOML, kb=True, llm=llm, chat=True)) as app:
            replies = []
            for text in ("hi!", "thanks 🙏", "ok", "Thank you so much!!"):
                _, done = await ask(app.manager, message(text, thread=f"chat-{llm}"))
                assert done is not None and done.status is ReplyStatus.ANSWERED
                replies.append(done.text)
            _, question = await ask(app.manager, message("thanks, but how do I export my boards?"))
        assert replies == [
            "Hi! What can I help you with?",
            "You're welcome! Anything else I can help with?",
            "Glad that helps. Anything else I can help with?",
            "You're welcome! Anything else I can help with?",
        ]
        assert question is not None and "help center" not in replies[1]
    assert len(fake_openai.requests) == 1  # only the real question, with the model on


async def test_a_short_question_of_its_own_is_not_mixed_with_the_previous_one(
    make_config: ConfigFactory, fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    write_kb(tmp_path)
    async with running_app(make_config(KB_TOML, kb=True, llm=False)) as app:
        await ask(app.manager, message("how do I export my boards to CSV"))
        _, android = await ask(app.manager, message("Do you have an Android app?"))
        await ask(app.manager, message("how do I export my boards to CSV", thread="t2"))
        _, follow = await ask(app.manager, message("and as a PDF?", thread="t2"))
    assert android is not None and android.text.startswith("I couldn't find anything")
    assert follow is not None and "Export your boards" in follow.text
