"""The learning loop end to end: a question the help center can't answer goes to a person, staff
answer it in the user's thread and resolve; the bot proposes a help entry under the card; only staff
can save it; the same question asked later is answered and cited from the learned entry, and the
report's coverage gap links to it. Also the terminal side: `supportbot kb learned`.

Real Bolt over HTTP against the fake Slack, real SQLite, the fake OpenAI (fake_model.py).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from adapters.slack.blocks import HUMAN_ACTION
from adapters.slack.cards import RESOLVE_ACTION
from adapters.slack.learned import (
    EDIT_VIEW,
    LEARNED_DISCARD_ACTION,
    LEARNED_EDIT_ACTION,
    LEARNED_SAVE_ACTION,
)
from bot.cli.report import Period, gather
from bot.events import IncomingMessage, ThreadKey
from bot.handoff.states import Trigger
from bot.storage.sqlite import SQLiteStore
from bot.storage.store import LearnedStatus
from tests.adapters.slack.test_adapter import CHANNEL, USER, button_values, wait_answers
from tests.adapters.slack.test_handoff import (
    STAFF,
    STAFF_CHANNEL,
    card_of,
    ephemeral_texts,
    press,
    record_of,
    staff_toml,
)
from tests.analytics.fake_model import NOT_FOUND, support_model
from tests.cli.test_cli import cli_env, run_cli
from tests.conversation.test_grounding import KB_TOML, write_kb
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_server import TEAM, mention, message
from tests.helpers import BotFactory, until

QUESTION = "how do I merge two workspaces"
STAFF_ANSWER = "Open Settings, then Workspaces, then Merge, and confirm by email."


async def test_a_staff_answer_becomes_a_cited_help_entry_once_staff_save_it(
    start_bot: BotFactory, fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    write_kb(tmp_path)
    fake_openai.reply = support_model
    bot = await start_bot(staff_toml() + KB_TOML, kb=True)
    bot.slack.users[STAFF] = "Sam"
    await bot.send.event(mention(QUESTION, channel=CHANNEL, ts="4001.1", user=USER))
    [first] = await wait_answers(bot.slack, CHANNEL, "4001.1", 1)
    assert first.text.startswith(NOT_FOUND)
    await bot.send.interaction(press(HUMAN_ACTION, button_values(first)[HUMAN_ACTION], user=USER, on=first))
    record = await record_of(bot, ThreadKey("slack", TEAM, CHANNEL, "4001.1"))
    card = await card_of(bot.slack)
    await bot.send.event(message(STAFF_ANSWER, channel=CHANNEL, ts="4001.5", user=STAFF, thread_ts="4001.1"))
    await until(lambda: _has_staff_turn(bot.app.store, record.conversation_id), "the staff answer stored")
    await bot.send.interaction(press(RESOLVE_ACTION, str(record.id), user=STAFF, on=card))

    # The proposal under the card: the model's draft of the question and the staff answer.
    await bot.slack.wait_for(lambda: len(bot.slack.thread(STAFF_CHANNEL, card.ts)) >= 2, what="the proposal")
    proposal = bot.slack.thread(STAFF_CHANNEL, card.ts)[-1]
    assert proposal.text.startswith("Save this as a help entry? (drafted by the model")
    assert f"A: {STAFF_ANSWER}" in proposal.text
    values = button_values(proposal)
    assert set(values) == {LEARNED_SAVE_ACTION, LEARNED_EDIT_ACTION, LEARNED_DISCARD_ACTION}
    # Only staff decide.
    await bot.send.interaction(
        press(LEARNED_SAVE_ACTION, values[LEARNED_SAVE_ACTION], user=USER, on=proposal)
    )
    assert (await ephemeral_texts(bot.slack, 3))[-1] == "Only support staff can save or discard help entries."
    assert [e.status for e in await bot.app.store.learned_entries()] == [LearnedStatus.PROPOSED]
    # Edit opens a modal with the draft (staff may rewrite it there); here staff save it as it is.
    await bot.send.interaction(
        press(LEARNED_EDIT_ACTION, values[LEARNED_EDIT_ACTION], user=STAFF, on=proposal)
    )
    [opened] = await bot.slack.wait_calls("views.open")
    shown = opened.params["view"]
    view = json.loads(shown) if isinstance(shown, str) else shown
    assert view["blocks"][0]["element"]["initial_value"] == STAFF_ANSWER
    await bot.send.interaction(
        press(LEARNED_SAVE_ACTION, values[LEARNED_SAVE_ACTION], user=STAFF, on=proposal)
    )
    assert (await ephemeral_texts(bot.slack, 4))[-1].startswith("Saved: the bot will answer this question")
    await bot.send.interaction(view_submission(view, STAFF, "a late edit"))
    assert (await ephemeral_texts(bot.slack, 5))[-1] == "That entry was saved or discarded already."
    [entry] = await bot.app.store.learned_entries()
    assert (entry.status, entry.drafted_by, entry.answer) == (LearnedStatus.APPROVED, "model", STAFF_ANSWER)
    assert bot.app.kb is not None and "learned" in [s.name for s in await bot.app.kb.sources()]

    # Asked again later, by someone else: answered from the learned entry, and cited as such.
    await bot.send.event(mention(QUESTION, channel=CHANNEL, ts="4002.1", user="U0GRACE"))
    [later] = await wait_answers(bot.slack, CHANNEL, "4002.1", 1)
    asked = [r for r in fake_openai.requests if r.get("stream")][-1]
    assert STAFF_ANSWER in json.dumps(asked["messages"])  # the passage the model was given
    today = datetime.now(UTC).date().isoformat()
    assert later.text.endswith(f"[1] How do i merge two workspaces — answered by our team on {today}")

    # The report: the gap this question was links to the entry that covers it now.
    period = Period(datetime.now(UTC).date(), datetime.now(UTC).date() + timedelta(days=1), None)
    report, _ = await gather(bot.app.config, period, datetime.now(UTC))
    [gap] = [g for g in report.coverage_gaps if g.question == QUESTION]
    assert (gap.count, gap.escalated, gap.learned_id) == (1, 1, entry.id)


def view_submission(view: dict[str, Any], user: str, answer: str) -> dict[str, Any]:
    """The view_submission payload Slack sends when the edit modal is submitted."""
    return {
        "type": "view_submission",
        "team": {"id": TEAM, "domain": "acme"},
        "user": {"id": user, "team_id": TEAM},
        "api_app_id": "A0APP",
        "trigger_id": "4.5.6",
        "view": {
            "id": "V0VIEW", "type": "modal", "callback_id": EDIT_VIEW, "team_id": TEAM,
            "private_metadata": view["private_metadata"],
            "state": {"values": {"answer": {"answer": {"type": "plain_text_input", "value": answer}}}},
        },
    }  # fmt: skip


async def _has_staff_turn(store: SQLiteStore, conversation_id: int) -> bool:
    return any(m.role == "staff" for m in await store.messages(conversation_id, 20))


async def test_kb_learned_lists_approves_with_an_edit_and_discards_from_the_terminal(tmp_path: Path) -> None:
    env = cli_env(tmp_path, None)
    store = SQLiteStore(Path(env["SUPPORTBOT_DATABASE__PATH"]))
    await store.open()
    try:
        ids = []
        for n, question in enumerate(("How do I merge two workspaces?", "Can I rename my team?")):
            key = ThreadKey("console", "", "console", f"t{n}")
            msg = IncomingMessage(key, f"m{n}", "ada", "Ada", question, True, datetime.now(UTC))
            stored = await store.record_inbound(msg, 5)
            assert stored is not None
            record = await store.open_escalation(
                stored.conversation_id, reason="", trigger=Trigger.COMMAND, requested_by="ada"
            )
            assert record is not None
            entry = await store.propose_learned(
                record.id, stored.conversation_id, question, "Ask us.", "exchange"
            )
            assert entry is not None
            ids.append(entry.id)
    finally:
        await store.close()

    code, out, _ = await run_cli("kb", "learned", "list", env=env)
    assert code == 0 and "How do I merge two workspaces?" in out and "proposed" in out
    code, out, _ = await run_cli(
        "kb", "learned", "approve", str(ids[0]), "--answer", "Settings → Workspaces → Merge.", env=env
    )
    assert (code, out) == (
        0,
        f"entry {ids[0]} approved and indexed as source 'learned': How do I merge two workspaces?\n",
    )
    code, out, _ = await run_cli("kb", "learned", "discard", str(ids[1]), env=env)
    assert code == 0 and out.startswith(f"entry {ids[1]} discarded")
    code, _, err = await run_cli("kb", "learned", "approve", str(ids[1]), env=env)
    assert code == 1 and f"no proposed entry {ids[1]}" in err
    code, out, _ = await run_cli("kb", "learned", "list", env=env)
    assert (code, out) == (0, "no proposed entries (--all lists the others)\n")

    # Without a model the bot answers from the learned page, labelled with when our team answered.
    code, out, _ = await run_cli(
        "chat", "--thread", "later", stdin="how do I merge two workspaces\n", env=env
    )
    today = datetime.now(UTC).date().isoformat()
    assert code == 0 and "Settings → Workspaces → Merge." in out
    assert f"How do I merge two workspaces? (answered by our team on {today})" in out
