"""No pings from bot text on Discord: every message the bot sends or edits (and every interaction
reply) carries allowed_mentions that let nobody be pinged, whatever the model or a user wrote,
except the staff role on handoff cards; the fake records the request bodies."""

from __future__ import annotations

from typing import Any

from tests.adapters.discord.test_adapter import DM, ask_dm, serving
from tests.adapters.discord.test_handoff import STAFF_MEMBER, discord_staff_toml, replies, stored_card
from tests.conftest import ConfigFactory
from tests.fakes.discord_server import Call, FakeDiscord
from tests.fakes.openai_server import FakeOpenAI

PINGS = "@everyone @here <@&{role}> <@901>"


def sent(call: Call) -> dict[str, Any] | None:
    """The message a call sends or edits (an interaction reply's data too), if it has content."""
    body = call.body if isinstance(call.body, dict) else {}
    message = body.get("data") if call.path.endswith("/callback") else body
    return message if isinstance(message, dict) and message.get("content") else None


def mentions_allowed(fake: FakeDiscord) -> list[tuple[str, str, list[Any]]]:
    """(method, content, [everyone/here, users, roles]) of every message the bot sent or edited."""
    allowed: list[tuple[str, str, list[Any]]] = []
    for call in fake.calls:
        message = sent(call) if call.method in ("POST", "PATCH") else None
        if message is not None:
            rules = message["allowed_mentions"]  # never left to Discord's default (ping all)
            pings = [rules["parse"], rules.get("users", []), rules.get("roles", [])]
            allowed.append((call.method, message["content"], pings))
    return allowed


async def test_answers_relayed_messages_and_cards_ping_only_the_staff_role_on_cards(
    make_config: ConfigFactory, fake_openai: FakeOpenAI, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    role = fake.staff_role_id
    fake_openai.reply = lambda _: f"Hi {PINGS.format(role=role)}. " * 3
    async with serving(make_config(discord_staff_toml(fake))) as app:
        await ask_dm(fake, f"hello {PINGS.format(role=role)}", 1)  # streamed: posted, then edited
        await fake.dispatch("INTERACTION_CREATE", fake.slash("escalate", channel_id=DM))
        await replies(fake, 1)
        record = await stored_card(app)
        thread = int(record.staff_thread or 0)
        [card] = fake.sent_to(fake.channel_id)
        await fake.dispatch(
            "MESSAGE_CREATE", fake.dm_message(f"{PINGS.format(role=role)} where", channel_id=DM)
        )
        await fake.wait_for(lambda: fake.sent_to(thread), what="the user's message relayed to staff")
        staff: dict[str, Any] = {"user_id": STAFF_MEMBER, "name": "Sam", "roles": [role]}
        await fake.dispatch("INTERACTION_CREATE", fake.click(card, f"supportbot:claim:{record.id}", **staff))
        await replies(fake, 2)
        written = f"{PINGS.format(role=role)} done"
        staff_reply = fake.guild_message(
            written,
            channel_id=thread,
            mention=False,
            author_id=STAFF_MEMBER,
            name="Sam",
            roles=[fake.staff_role_id],
        )
        await fake.dispatch("MESSAGE_CREATE", staff_reply)
        await fake.wait_for(
            lambda: any(m["content"].startswith("Sam (support)") for m in fake.sent_to(DM)),
            what="the staff reply relayed to the user",
        )
    allowed = mentions_allowed(fake)
    cards = [pings for _, content, pings in allowed if content.startswith(f"<@&{role}> New escalation")]
    assert cards == [[[], [], [role]]]  # the card: the staff role only
    others = [(method, content[:8]) for method, content, pings in allowed if pings == [[], [], []]]
    assert len(others) == len(allowed) - 1  # everything else: nobody
    assert {("POST", "Hi @ever"), ("PATCH", "Hi @ever")} <= set(others)  # the streamed answer
    assert {("POST", "Sam (sup"), ("POST", "Ada: @ev")} <= set(others)  # the relay, both ways
