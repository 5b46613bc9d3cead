"""Grounded answers: reference material in the prompt, Sources footers, abstaining, KB-only answers."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from adapters.console.adapter import ConsoleAdapter
from bot.app import running_app
from bot.conversation.grounding import NO_MATERIAL_RULES, lines_tokens, reference_lines
from bot.events import ReplyStatus, ThreadKey
from bot.kb import Hit
from bot.llm.tokens import OFFLINE_ENCODING, load_counter
from bot.storage.store import MessageStatus
from tests.conftest import REPO, ConfigFactory
from tests.fakes.openai_server import FakeOpenAI
from tests.helpers import ask, message

KB_TOML = '[kb]\nsample_dir = "kb"\nsample_url_template = "https://help.example.com/{stem}"\n'


def write_kb(root: Path) -> None:
    (root / "kb").mkdir()
    (root / "kb" / "refunds.md").write_text(
        "# Refunds\n\nAnnual plans are refunded in full within 30 days of purchase.\n\n"
        "## How to ask for a refund\n\nWrite to billing with your invoice number.\n"
    )
    (root / "kb" / "export.md").write_text(
        "# Export your boards\n\nOpen Settings, choose Export and download a CSV file of every board.\n"
    )


def citing_reply(request: dict[str, Any]) -> str:
    return "Annual plans are refunded within 30 days [1]."


async def test_console_answer_cites_its_sources(
    make_config: ConfigFactory, fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    write_kb(tmp_path)
    fake_openai.reply = citing_reply
    config = make_config(KB_TOML, kb=True)
    out = io.StringIO()
    async with running_app(config) as app:
        console = ConsoleAdapter(
            thread="c1",
            user_name="ada",
            stdin=io.StringIO("can I get a refund on my annual plan?\n"),
            stdout=out,
            interactive=False,
            bot_name="Supportbot",
            service=app.service,
        )
        await console.run()
    assert out.getvalue() == (
        "Annual plans are refunded within 30 days [1].\n\n"
        "Sources:\n[1] Refunds — https://help.example.com/refunds\n"
    )
    prompt = fake_openai.requests[0]["messages"]
    material = prompt[-2]
    assert material["role"] == "user" and "<reference-" in material["content"]
    assert 'title="Refunds' in material["content"] and "within 30 days" in material["content"]
    assert prompt[-1] == {"role": "user", "content": "can I get a refund on my annual plan?"}


async def test_nothing_relevant_means_no_material_and_an_offer_of_a_person(
    make_config: ConfigFactory, fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    write_kb(tmp_path)
    async with running_app(make_config(KB_TOML, kb=True)) as app:
        _, done = await ask(app.manager, message("what is the airspeed velocity of a swallow"))
    assert done is not None and done.status is ReplyStatus.ANSWERED
    assert fake_openai.requests[0]["messages"][-2]["content"].endswith(NO_MATERIAL_RULES)
    assert "Sources:" not in done.text and "bring in a person" in done.text


async def test_without_an_llm_the_best_passages_answer(
    make_config: ConfigFactory, fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    write_kb(tmp_path)
    async with running_app(make_config(KB_TOML, kb=True, llm=False)) as app:
        _, done = await ask(app.manager, message("how do I export my boards to CSV"))
        assert done is not None and done.status is ReplyStatus.ANSWERED
        assert done.text.startswith("Here is what I found in our help center (an excerpt")
        assert "\nExport your boards — https://help.example.com/export\n" in done.text
        assert "download a CSV file" in done.text and "/escalate" in done.text
        _, unknown = await ask(app.manager, message("what is the airspeed velocity of a swallow"))
        assert unknown is not None and unknown.text.startswith("I couldn't find anything")
    assert fake_openai.requests == []


async def test_an_llm_failure_falls_back_to_passages(
    make_config: ConfigFactory, fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    write_kb(tmp_path)
    fake_openai.fail_next("500")
    async with running_app(make_config(KB_TOML + "[llm]\nmax_retries = 0\n", kb=True)) as app:
        _, done = await ask(app.manager, message("how do I export my boards to CSV"))
        assert done is not None and done.status is ReplyStatus.FAILED
        assert done.text.startswith("Sorry, my language model is having trouble")
        assert "download a CSV file" in done.text
        conv = await app.store.find_conversation(message("x").key)
        assert conv is not None
        inbound = (await app.store.messages(conv.id, 5))[0]
        assert (inbound.status, inbound.error) == (MessageStatus.FAILED, "server")


async def test_the_daily_spend_cap_switches_to_passages(
    make_config: ConfigFactory, fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    write_kb(tmp_path)
    toml = KB_TOML + '[llm]\nmodel = "gpt-4"\ndaily_budget_usd = 0.0001\n'
    async with running_app(make_config(toml, kb=True)) as app:
        _, first = await ask(app.manager, message("how do I export my boards"))
        assert first is not None and first.usage is not None and first.usage.cost_usd
        assert first.usage.cost_usd >= 0.0001
    async with running_app(make_config(toml, kb=True)) as app:  # the spend is read back from the DB
        _, second = await ask(app.manager, message("how do I export my boards"))
    assert second is not None and second.text.startswith("I've reached today's answering budget")
    assert len(fake_openai.requests) == 1


async def test_a_passage_answer_is_the_matching_part_of_its_section_as_a_reader_sees_it(
    make_config: ConfigFactory, fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    write_kb(tmp_path)
    filler = " ".join(f"Plans renew on day {n} of the cycle." for n in range(1, 30))
    (tmp_path / "kb" / "renewals.md").write_text(
        f"# Renewals\n\n## Renewal dates\n\n{filler}\n\n"
        '## Switch to yearly billing\n\nSee <i class="icon-gear"></i> the [billing guide](https://example.com/b)'
        " before you switch:\n\n1. Open **Billing**.\n\n1. Choose *Yearly*.\n\n1. Confirm the switch.\n\n"
        f"## Old invoices\n\n{filler}\n"
    )
    async with running_app(make_config(KB_TOML, kb=True, llm=False)) as app:
        _, console = await ask(app.manager, message("how do I switch to yearly billing?"))
        question = message("how do I switch to yearly billing?")
        in_slack = replace(question, key=ThreadKey("slack", "T", "D", "D"))
        _, slack = await ask(app.manager, in_slack)
    assert console is not None and slack is not None
    steps = "1. Open Billing.\n2. Choose Yearly.\n3. Confirm the switch."
    assert (
        "\nRenewals — https://help.example.com/renewals\n"
        f"See the billing guide (https://example.com/b) before you switch:\n\n{steps}\n"
    ) in console.text
    assert f"See the [billing guide](https://example.com/b) before you switch:\n\n{steps}\n" in slack.text
    assert "renew on day" not in console.text  # only the matching section


async def test_a_follow_up_is_searched_with_the_previous_question(
    make_config: ConfigFactory, fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    write_kb(tmp_path)
    async with running_app(make_config(KB_TOML, kb=True)) as app:
        await ask(app.manager, message("can I get a refund on my annual plan?"))
        _, done = await ask(app.manager, message("and how would I go about that?"))
    assert done is not None and done.status is ReplyStatus.ANSWERED
    material = fake_openai.requests[1]["messages"][-2]["content"]
    assert "<reference-" in material and 'title="Refunds' in material


async def test_an_answer_citing_nothing_offers_a_person(
    make_config: ConfigFactory, fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    """Material was found, but the model says it doesn't answer the question: no Sources, an offer."""
    write_kb(tmp_path)
    fake_openai.reply = lambda request: "The help center doesn't say whether refunds reach PayPal."
    question = "are annual plan refunds sent back to paypal?"
    async with running_app(make_config(KB_TOML, kb=True)) as app:
        _, done = await ask(app.manager, message(question))
        in_slack = replace(message(question), key=ThreadKey("slack", "T1", "D1", "D1"))
        _, slack_done = await ask(app.manager, in_slack)
    assert done is not None and done.status is ReplyStatus.ANSWERED
    assert "<reference-" in fake_openai.requests[0]["messages"][-2]["content"]
    assert done.text == (
        "The help center doesn't say whether refunds reach PayPal.\n\n"
        "Our help center doesn't seem to cover this."
        " If you'd like, I can bring in a person from the team: type /escalate."  # the console
    )
    assert slack_done is not None and slack_done.text.endswith("use /escalate or the button.")


EDGE_PASSAGES = [
    "Ends with a full stop.",
    "Trailing spaces   ",
    " A leading space",
    "\n\nA leading blank line",
    "A trailing blank line\n\n",
    "Code:\n```\nx = 1\n```",
    "日本語のテキスト。",
    "/a/path/first",
    "Ends with a tag <b>",
    "\tA tab, an emoji 🎉, CRLF\r\nlines\r\n",
]


@pytest.mark.parametrize("weak", [False, True])
async def test_the_material_counted_in_parts_is_never_below_the_whole_and_at_most_two_a_cut_above(
    weak: bool,
) -> None:
    counter = await load_counter("gpt-4o-mini", OFFLINE_ENCODING)
    pages = [p.read_text() for p in sorted((REPO / "config" / "sample_kb").rglob("*.md"))]
    texts = [*pages, *EDGE_PASSAGES]
    for start in range(0, len(texts), 3):
        hits = [
            Hit(f"p{i}.md", "Title", "", None, text, 1.0) for i, text in enumerate(texts[start : start + 5])
        ]
        for _ in range(20):  # each block has a new boundary, and how it tokenizes varies
            reference = reference_lines(hits, 6000, weak=weak)
            whole = counter.tokens(reference.text())
            counted = lines_tokens(reference, counter.tokens, counter.tokens)
            cuts = len(reference.lines) - 1 + 2 * reference.text().count(reference.code)  # newlines, codes
            assert whole <= counted <= whole + 2 * cuts, (reference.code, [h.text[:30] for h in hits])
