"""Discord DMs handed to staff: through a staff channel on Slack (both adapters on one app) and on Discord,
and across a restart. The real discord.py against the fake gateway, real Bolt, SQLite and the fake OpenAI.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from adapters.discord.adapter import DiscordAdapter
from adapters.slack.adapter import SlackAdapter
from adapters.slack.cards import RESOLVE_ACTION
from bot.app import App, running_app
from bot.settings import LoadedConfig
from bot.storage.store import EscalationRecord
from tests.adapters.discord.test_adapter import DM, ask_dm, custom_ids, dm_key
from tests.adapters.slack.test_handoff import STAFF, STAFF_CHANNEL, card_of, press, staff_toml, thread_texts
from tests.conftest import ConfigFactory
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_server import SIGNING_SECRET, FakeSlack, SlackSender, message
from tests.helpers import until

STAFF_MEMBER = 7_000_000_000_000_000_900  # a Discord user with the staff role
RATED = "This conversation is resolved and I'm back to help."


@dataclass
class Running:
    app: App
    discord: DiscordAdapter
    slack: SlackAdapter | None
    send: SlackSender | None


Start = Callable[..., Awaitable[Running]]


@pytest.fixture
async def start(
    fake_slack: FakeSlack, fake_discord: FakeDiscord, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Start]:
    """Run one app with the Discord adapter (and the Slack one when asked); stop all at the end."""
    stack = AsyncExitStack()
    monkeypatch.setenv("SLACK_BOT_TOKEN", fake_slack.token)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)
    monkeypatch.setenv("SLACK_API_URL", fake_slack.api_url)
    monkeypatch.delenv("SLACK_APP_TOKEN", raising=False)
    fake_slack.users[STAFF] = "Sam"

    async def run(config: LoadedConfig, *, slack: bool = False) -> Running:
        return await stack.enter_async_context(_running(config, slack=slack))

    yield run
    await stack.aclose()


@asynccontextmanager
async def _running(config: LoadedConfig, *, slack: bool) -> AsyncIterator[Running]:
    async with running_app(config) as app, AsyncExitStack() as adapters:
        slack_adapter, sender = None, None
        if slack:
            slack_adapter = SlackAdapter(app.service, app.config, mode="http", host="127.0.0.1", port=0)
            await slack_adapter.start()
            adapters.push_async_callback(slack_adapter.close)
            session = await adapters.enter_async_context(aiohttp.ClientSession())
            sender = SlackSender(
                f"http://127.0.0.1:{slack_adapter.port}/slack/events", SIGNING_SECRET, session
            )
        discord_adapter = DiscordAdapter(app.service, app.config, guild_ready_timeout_s=0.05)
        await discord_adapter.start()
        adapters.push_async_callback(discord_adapter.close)
        yield Running(app, discord_adapter, slack_adapter, sender)


def discord_staff_toml(fake: FakeDiscord) -> str:
    return (
        f'[escalation]\nstaff_role_ids = ["{fake.staff_role_id}"]\n'
        f'[escalation.staff_channel]\nplatform = "discord"\nchannel = "{fake.channel_id}"\n'
        "[discord]\nmessage_content_intent = true\n"
    )


async def stored_card(app: App) -> EscalationRecord:
    async def find() -> EscalationRecord | None:
        conv = await app.store.find_conversation(dm_key())
        record = await app.store.current_escalation(conv.id) if conv else None
        return record if record is not None and record.staff_thread else None

    return await until(find, "the card's thread stored")


def _modals(fake: FakeDiscord) -> list[dict[str, Any]]:
    """The modals the bot opened (interaction callbacks of type 9)."""
    calls = fake.find("POST", r"/interactions/\d+/[^/]+/callback")
    return [c.body["data"] for c in calls if c.body["type"] == 9]


async def dm_texts(fake: FakeDiscord, count: int) -> list[str]:
    await fake.wait_for(lambda: len(fake.sent_to(DM)) >= count, what=f"{count} messages in the DM")
    return [m["content"] for m in fake.sent_to(DM)]


async def replies(fake: FakeDiscord, count: int) -> list[str]:
    await fake.wait_for(lambda: len(fake.replies) >= count, what=f"{count} interaction responses")
    return [r["content"] for r in fake.replies]


def dm_with_file(fake: FakeDiscord, text: str, filename: str) -> dict[str, Any]:
    payload = fake.dm_message(text, channel_id=DM)
    payload["attachments"] = [fake.attachment(filename)]
    return payload


async def rate(fake: FakeDiscord, app: App, record: EscalationRecord, score: int) -> None:
    """Press one of the rating buttons under the DM's last message; the score is stored."""
    rating = fake.sent_to(DM)[-1]
    assert custom_ids(rating) == [f"supportbot:rate:{record.id}:{n}" for n in range(1, 6)]
    count = len(fake.replies)
    await fake.dispatch("INTERACTION_CREATE", fake.click(rating, custom_ids(rating)[score - 1]))
    assert (await replies(fake, count + 1))[-1] == f"Thank you for rating us {score}/5."
    found = await app.store.escalation(record.id)
    assert found is not None and found[0].satisfaction == score


async def test_a_discord_dm_is_relayed_through_a_staff_channel_on_slack(
    make_config: ConfigFactory,
    fake_openai: FakeOpenAI,
    fake_slack: FakeSlack,
    fake_discord: FakeDiscord,
    start: Start,
) -> None:
    fake = fake_discord
    run = await start(make_config(staff_toml()), slack=True)
    assert run.send is not None
    await ask_dm(fake, "my order never arrived", 1)
    await fake.dispatch(
        "INTERACTION_CREATE", fake.slash("escalate", channel_id=DM, options={"reason": "lost order"})
    )
    assert "asked a person" in (await replies(fake, 1))[0]
    card = await card_of(fake_slack)
    record = await stored_card(run.app)
    assert (record.staff_platform, record.staff_thread, record.relay) == ("slack", card.ts, True)
    assert card.text.endswith("from Ada: lost order")

    # The user's DM (with a file) goes to the card's thread on Slack; the bot says nothing.
    await fake.dispatch("MESSAGE_CREATE", dm_with_file(fake, "here is the receipt", "receipt.png"))
    [note] = await thread_texts(fake_slack, STAFF_CHANNEL, card.ts, 1)
    assert note.startswith("Ada: here is the receipt\nhttps://cdn.discordapp.com/attachments/")
    assert note.endswith("/receipt.png")

    # Staff answer under the card on Slack (with a file): the user reads it in their Discord DM.
    upload = {"permalink": "https://acme.slack.com/files/U0STAFF/F2/label.pdf"}
    await run.send.event(
        message(
            "It's on its way",
            channel=STAFF_CHANNEL,
            ts="3000.1",
            user=STAFF,
            thread_ts=card.ts,
            files=[upload],
        )
    )
    dm = await dm_texts(fake, 2)
    assert dm[1] == "Sam (support): It's on its way\nhttps://acme.slack.com/files/U0STAFF/F2/label.pdf"

    await run.send.interaction(press(RESOLVE_ACTION, str(record.id), user=STAFF, on=card))
    dm = await dm_texts(fake, 3)
    assert dm[2].startswith(RATED)
    await rate(fake, run.app, record, 5)
    await ask_dm(fake, "one more question", 3)  # the rating message carries buttons too
    assert [r["messages"][-1]["content"] for r in fake_openai.requests if r.get("stream")] == [
        "my order never arrived",
        "one more question",
    ]
    assert len(fake.sent_to(DM)) == 4  # answer, staff reply, resolved + rating, answer: no bot answer between


async def test_a_discord_dm_is_relayed_through_a_staff_channel_on_discord(
    make_config: ConfigFactory, fake_openai: FakeOpenAI, fake_discord: FakeDiscord, start: Start
) -> None:
    fake = fake_discord
    run = await start(make_config(discord_staff_toml(fake)))
    await ask_dm(fake, "I can't log in", 1)
    await fake.dispatch("INTERACTION_CREATE", fake.slash("escalate", channel_id=DM))
    await replies(fake, 1)
    record = await stored_card(run.app)
    [card] = fake.sent_to(fake.channel_id)
    thread = int(card["id"])  # the staff thread is started from the card and shares its id
    assert record.staff_thread == str(thread) and record.relay
    assert card["content"] == f"<@&{fake.staff_role_id}> New escalation #{record.id} from **Ada**"
    [posted] = fake.find("POST", rf"/channels/{fake.channel_id}/messages")
    assert [str(r) for r in posted.body["allowed_mentions"]["roles"]] == [str(fake.staff_role_id)]
    embed = card["embeds"][0]
    assert embed["title"] == f"Escalation #{record.id}: Ada (discord)"
    assert "Echo (2 messages): Ada: I can't log in" in embed["description"]
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Reason"] == "asked with /escalate"  # the same default reason on every platform
    assert fields["Trigger"] == "command" and fields["Conversation"].startswith("Private conversation")
    assert custom_ids(card) == [f"supportbot:claim:{record.id}", f"supportbot:resolve:{record.id}"]
    assert fake.find("POST", rf"/channels/{fake.channel_id}/messages/{thread}/threads")

    await fake.dispatch("MESSAGE_CREATE", fake.dm_message("it says password expired", channel_id=DM))
    await fake.wait_for(lambda: fake.sent_to(thread), what="the relayed DM in the staff thread")
    assert fake.sent_to(thread)[0]["content"] == "Ada: it says password expired"

    staff: dict[str, Any] = {"user_id": STAFF_MEMBER, "name": "Sam", "roles": [fake.staff_role_id]}
    grace = {"user_id": 901, "name": "Grace", "roles": []}
    await fake.dispatch("INTERACTION_CREATE", fake.click(card, f"supportbot:resolve:{record.id}", **grace))
    assert (await replies(fake, 2))[-1] == "Only support staff can resolve escalations."
    await fake.dispatch("INTERACTION_CREATE", fake.click(card, f"supportbot:claim:{record.id}", **staff))
    assert (await replies(fake, 3))[-1] == "You've claimed this conversation."
    assert (await dm_texts(fake, 2))[1] == "Sam from our team has joined the conversation."

    reply = fake.guild_message(
        "Reset it here",
        channel_id=thread,
        mention=False,
        author_id=STAFF_MEMBER,
        name="Sam",
        roles=[fake.staff_role_id],
    )
    reply["attachments"] = [fake.attachment("steps.png")]
    await fake.dispatch("MESSAGE_CREATE", reply)
    dm = await dm_texts(fake, 3)
    assert dm[2].startswith("Sam (support): Reset it here\nhttps://cdn.discordapp.com/attachments/")

    # /resolve inside the staff thread resolves the conversation relayed there.
    await fake.dispatch("INTERACTION_CREATE", fake.slash("resolve", channel_id=thread, **staff))
    assert (await replies(fake, 4))[-1].startswith("Resolved")
    assert (await dm_texts(fake, 4))[3].startswith(RATED)
    await rate(fake, run.app, record, 3)
    await fake.wait_for(lambda: len(fake.sent_to(thread)) == 4, what="the proposed help entry")
    notes = [m["content"] for m in fake.sent_to(thread)]
    assert notes[:3] == [
        "Ada: it says password expired",
        "Claimed by Sam.",
        "Resolved by Sam; the bot answers again.",
    ]
    # Staff answered during the handoff: their answer is offered as a help entry (the learning loop).
    assert notes[3].startswith("Save this as a help entry?") and "Q: I can't log in" in notes[3]
    proposal = fake.sent_to(thread)[3]
    [entry] = await run.app.store.learned_entries()
    save = f"supportbot:learned:save:{entry.id}"
    edit = f"supportbot:learned:edit:{entry.id}"
    assert custom_ids(proposal) == [save, edit, f"supportbot:learned:discard:{entry.id}"]
    assert entry.answer.startswith("Reset it here")  # the relayed staff answer, kept in the transcript
    before = len(fake.replies)
    await fake.dispatch("INTERACTION_CREATE", fake.click(proposal, save, **grace))
    assert (await replies(fake, before + 1))[-1] == "Only support staff can save or discard help entries."
    # Edit: a modal with the draft; what staff submit there is saved.
    await fake.dispatch("INTERACTION_CREATE", fake.click(proposal, edit, **staff))
    await fake.wait_for(lambda: _modals(fake), what="the edit modal")
    [modal] = _modals(fake)
    [[field]] = [row["components"] for row in modal["components"]]
    assert (modal["custom_id"], field["value"]) == (f"supportbot:learned:editing:{entry.id}", entry.answer)
    edited = "Reset your password from Settings, then Security."
    inputs = [{"type": 1, "components": [{"type": 4, "custom_id": "answer", "value": edited}]}]
    submit = {"custom_id": modal["custom_id"], "components": inputs}
    await fake.dispatch("INTERACTION_CREATE", fake.interaction(5, submit, channel_id=thread, **staff))
    assert (await replies(fake, before + 2))[-1].startswith("Saved: the bot will answer this question")
    [saved] = await run.app.store.learned_entries()
    assert (saved.status, saved.decided_by, saved.answer) == ("approved", str(STAFF_MEMBER), edited)
    await fake.dispatch("INTERACTION_CREATE", fake.click(proposal, save, **staff))
    assert (await replies(fake, before + 3))[-1] == "That entry was saved or discarded already."
    assert len([r for r in fake_openai.requests if r.get("stream")]) == 1  # the bot answered nothing


async def test_a_restart_while_escalated_keeps_the_state_and_the_relay(
    make_config: ConfigFactory, fake_openai: FakeOpenAI, fake_discord: FakeDiscord, start: Start
) -> None:
    fake = fake_discord
    config = make_config(discord_staff_toml(fake))
    async with _running(config, slack=False) as first:
        await fake.dispatch("INTERACTION_CREATE", fake.slash("escalate", channel_id=DM))
        record = await stored_card(first.app)
    card = fake.sent_to(fake.channel_id)[0]
    thread = int(card["id"])

    run = await start(config)  # a new process: the thread isn't in discord.py's cache any more
    await fake.dispatch("MESSAGE_CREATE", fake.dm_message("still waiting", channel_id=DM))
    await fake.wait_for(lambda: fake.sent_to(thread), what="the relayed DM after the restart")
    assert fake.sent_to(thread)[0]["content"] == "Ada: still waiting"
    reply = fake.guild_message(
        "Looking now",
        channel_id=thread,
        mention=False,
        author_id=STAFF_MEMBER,
        name="Sam",
        roles=[fake.staff_role_id],
    )
    await fake.dispatch("MESSAGE_CREATE", reply)
    assert (await dm_texts(fake, 1)) == ["Sam (support): Looking now"]
    staff: dict[str, Any] = {"user_id": STAFF_MEMBER, "name": "Sam", "roles": [fake.staff_role_id]}
    await fake.dispatch("INTERACTION_CREATE", fake.click(card, f"supportbot:claim:{record.id}", **staff))
    await fake.wait_for(lambda: len(fake.replies) >= 2, what="the claim response")
    assert fake.replies[-1]["content"] == "You've claimed this conversation."
    [(open_record, key)] = await run.app.store.open_escalations()
    assert (open_record.id, open_record.state, key) == (record.id, "human", dm_key())
    assert fake_openai.requests == []  # no answer, and no summary of an empty conversation


async def test_only_staff_speak_to_the_customer_from_a_card_thread(
    make_config: ConfigFactory, fake_openai: FakeOpenAI, fake_discord: FakeDiscord, start: Start
) -> None:
    fake = fake_discord
    run = await start(make_config(discord_staff_toml(fake)))
    await ask_dm(fake, "I can't log in", 1)
    await fake.dispatch("INTERACTION_CREATE", fake.slash("escalate", channel_id=DM))
    record = await stored_card(run.app)
    thread = int(record.staff_thread or 0)
    for n in (1, 2):  # a member without the staff role writes in the card's thread
        await fake.dispatch(
            "MESSAGE_CREATE",
            fake.guild_message(f"send me your password {n}", channel_id=thread, mention=False, author_id=901),
        )
    staff = fake.guild_message(
        "How can I help?", channel_id=thread, mention=False, author_id=STAFF_MEMBER, name="Sam",
        roles=[fake.staff_role_id],
    )  # fmt: skip
    await fake.dispatch("MESSAGE_CREATE", staff)
    dm = await dm_texts(fake, 2)
    assert dm[-1] == "Sam (support): How can I help?" and not any("password" in text for text in dm)
    # The other writer was told once, privately (a DM of their own).
    await fake.wait_for(lambda: "901" in fake.dm_channels and fake.sent_to(int(fake.dm_channels["901"])))
    opened = fake.find("POST", r"/users/@me/channels")
    assert [str(c.body["recipient_id"]) for c in opened] == ["901"]
    notes = [m["content"] for m in fake.sent_to(int(fake.dm_channels["901"]))]
    assert len(notes) == 1 and notes[0].startswith("Only support staff can write to the customer")
