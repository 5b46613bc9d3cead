"""The Discord adapter end to end: the real discord.py client over real sockets to a fake Discord, the
real manager and SQLite, and the fake OpenAI server."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from adapters.discord.adapter import DiscordAdapter
from bot.app import App, running_app
from bot.conversation.outbox import MAX_ATTEMPTS
from bot.conversation.recovery import answer_unanswered
from bot.events import ThreadKey
from bot.platforms import AdapterStartError
from bot.settings import LoadedConfig
from bot.storage.store import MessageStatus, Role
from tests.conftest import ConfigFactory
from tests.conversation.test_grounding import KB_TOML, citing_reply, write_kb
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI
from tests.helpers import delivered_replies, left_unanswered, retry_now, sqlite_db, until

DM = 7_000_000_000_000_000_001  # a DM channel id
STAFF = 7_000_000_000_000_000_900


@asynccontextmanager
async def serving(config: LoadedConfig, **options: Any) -> AsyncIterator[App]:
    async with running_app(config) as app:
        adapter = DiscordAdapter(app.service, app.config, **({"guild_ready_timeout_s": 0.05} | options))
        await adapter.start()
        try:
            yield app
        finally:
            await adapter.close()


def finished(fake: FakeDiscord, channel_id: int, count: int = 1) -> bool:
    """True once `count` answers in the channel carry their final buttons."""
    return sum(1 for m in fake.sent_to(channel_id) if m["components"]) >= count


async def ask_dm(fake: FakeDiscord, text: str, count: int, **who: Any) -> list[dict[str, Any]]:
    await fake.dispatch("MESSAGE_CREATE", fake.dm_message(text, channel_id=DM, **who))
    await fake.wait_for(lambda: finished(fake, DM, count), what=f"answer {count} in the DM")
    return fake.sent_to(DM)


def dm_key() -> ThreadKey:
    return ThreadKey("discord", "", str(DM), str(DM))


def custom_ids(message: dict[str, Any]) -> list[str]:
    return [c["custom_id"] for row in message["components"] for c in row["components"]]


async def test_dm_is_streamed_then_edited_and_history_carries_over(
    make_config: ConfigFactory, fake_openai: FakeOpenAI, fake_discord: FakeDiscord
) -> None:
    async with serving(make_config()) as app:
        await ask_dm(fake_discord, "first question", 1)
        answers = await ask_dm(fake_discord, "second question", 2)

        sent = [m["content"] for m in answers]
        assert "second question" in sent[1] and "first question" in sent[0]
        history = [
            (m["role"], m["content"]) for m in fake_openai.requests[-1]["messages"] if m["role"] != "system"
        ]
        assert ("user", "first question") in history
        assert any(role == "assistant" and "first question" in text for role, text in history)

        # The first text went out as soon as it arrived, then one final edit with the whole answer + buttons.
        posts = fake_discord.find("POST", rf"/channels/{DM}/messages")
        edits = fake_discord.find("PATCH", rf"/channels/{DM}/messages/\d+")
        assert len(posts) == 2 and len(edits) == 2
        assert posts[0].body["content"] != sent[0] and sent[0].startswith(posts[0].body["content"])
        assert edits[0].body["content"] == sent[0] and edits[0].body["components"]
        assert fake_discord.find("POST", rf"/channels/{DM}/typing")
        assert posts[0].body["allowed_mentions"]["parse"] == []  # model output never pings anyone

        replies = await delivered_replies(app, dm_key(), 2)
        conv = await app.store.find_conversation(dm_key())
        assert conv is not None
        stored = await app.store.messages(conv.id, 10)
        assert [m.status for m in stored if m.role is Role.USER] == [MessageStatus.ANSWERED] * 2
        assert [m.status for m in replies] == [MessageStatus.DELIVERED] * 2
        assert [m.platform_message_id for m in replies] == [m["id"] for m in answers]


async def test_guild_mention_starts_a_thread_and_follow_ups_need_no_mention_with_the_intent(
    make_config: ConfigFactory, fake_openai: FakeOpenAI, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    async with serving(make_config("[discord]\nmessage_content_intent = true\n")) as app:
        assert fake.identifies[-1]["intents"] & (1 << 15)  # message_content asked for
        question = fake.guild_message("How do I export my data?")
        await fake.dispatch("MESSAGE_CREATE", question)
        thread = int(question["id"])  # a thread started from a message shares its id
        await fake.wait_for(lambda: finished(fake, thread), what="the answer in the thread")
        [start] = fake.find("POST", rf"/channels/{fake.channel_id}/messages/{thread}/threads")
        assert start.body["name"] == "How do I export my data?"
        assert "How do I export my data?" in fake.sent_to(thread)[0]["content"]
        assert "<@" not in fake_openai.requests[0]["messages"][-1]["content"]  # the mention is stripped
        assert fake.sent_to(fake.channel_id) == []  # nothing posted in the channel itself

        follow_up = fake.guild_message("And as CSV?", channel_id=thread, mention=False)
        await fake.dispatch("MESSAGE_CREATE", follow_up)
        await fake.wait_for(lambda: finished(fake, thread, 2), what="the follow-up answer")
        sent = [m["content"] for m in fake_openai.requests[-1]["messages"]]
        assert "How do I export my data?" in sent and sent[-1].endswith("And as CSV?")
        key = ThreadKey("discord", str(fake.guild_id), str(fake.channel_id), str(thread))
        conv = await app.store.find_conversation(key)
        assert conv is not None and len(await app.store.messages(conv.id, 10)) == 4


async def test_without_the_intent_only_mentions_are_answered_in_threads(
    make_config: ConfigFactory, fake_openai: FakeOpenAI, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    async with serving(make_config()):
        assert not fake.identifies[-1]["intents"] & (1 << 15)
        question = fake.guild_message("first")
        await fake.dispatch("MESSAGE_CREATE", question)
        thread = int(question["id"])
        await fake.wait_for(lambda: finished(fake, thread), what="the first answer")
        await fake.dispatch(
            "MESSAGE_CREATE", fake.guild_message("not for you", channel_id=thread, mention=False)
        )
        await fake.dispatch("MESSAGE_CREATE", fake.guild_message("second", channel_id=thread))
        await fake.wait_for(lambda: finished(fake, thread, 2), what="the answer to the mention")
        asked = [r["messages"][-1]["content"] for r in fake_openai.requests]
        assert [a.split()[-1] for a in asked] == ["first", "second"]
        # an un-mentioned message in the channel itself is not for the bot either
        await fake.dispatch("MESSAGE_CREATE", fake.guild_message("chatter", mention=False))
        await fake.dispatch("MESSAGE_CREATE", fake.guild_message("third"))
        await fake.wait_for(lambda: len(fake_openai.requests) == 3, what="the third question")
        assert fake_openai.requests[-1]["messages"][-1]["content"].endswith("third")


async def test_reply_mode_answers_inline(
    make_config: ConfigFactory, fake_openai: FakeOpenAI, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    async with serving(make_config('[discord]\nmention_mode = "reply"\n')):
        question = fake.guild_message("inline please")
        await fake.dispatch("MESSAGE_CREATE", question)
        await fake.wait_for(lambda: finished(fake, fake.channel_id), what="the inline answer")
        assert not fake.find("POST", r"/channels/\d+/messages/\d+/threads")
        [first] = fake.find("POST", rf"/channels/{fake.channel_id}/messages")
        assert str(first.body["message_reference"]["message_id"]) == question["id"]


async def test_messages_from_bots_and_itself_are_ignored(
    make_config: ConfigFactory, fake_openai: FakeOpenAI, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    async with serving(make_config()):
        await fake.dispatch("MESSAGE_CREATE", fake.dm_message("from a bot", channel_id=DM, bot=True))
        own = fake.dm_message("my own answer", channel_id=DM, author_id=fake.bot_id, bot=True)
        await fake.dispatch("MESSAGE_CREATE", own)
        await fake.dispatch("MESSAGE_CREATE", fake.guild_message("a bot mentions me", bot=True))
        await ask_dm(fake, "from a person", 1)
        assert [r["messages"][-1]["content"] for r in fake_openai.requests] == ["from a person"]
        assert len(fake.find("POST", r"/channels/\d+/messages")) == 1


async def test_the_same_message_create_twice_gets_one_answer(
    make_config: ConfigFactory, fake_openai: FakeOpenAI, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    async with serving(make_config()):
        payload = fake.dm_message("only once", channel_id=DM)
        await fake.dispatch("MESSAGE_CREATE", payload)
        await fake.dispatch("MESSAGE_CREATE", payload)
        mention = fake.guild_message("once in the guild too")
        await fake.dispatch("MESSAGE_CREATE", mention)
        await fake.dispatch("MESSAGE_CREATE", mention)
        await ask_dm(fake, "next", 2)
        await fake.wait_for(lambda: finished(fake, int(mention["id"])), what="the guild answer")
        asked = sorted(r["messages"][-1]["content"] for r in fake_openai.requests)
        assert asked == ["next", "once in the guild too", "only once"]
        assert len(fake.sent_to(DM)) == 2 and len(fake.sent_to(int(mention["id"]))) == 1
        # A duplicate shows no "typing…" and starts no second thread: only accepted messages do.
        assert len(fake.find("POST", rf"/channels/{DM}/typing")) == 2
        assert len(fake.find("POST", rf"/channels/\d+/messages/{mention['id']}/threads")) == 1


FENCED = (
    "Here is the script you asked for.\n\n"
    + "```python\n"
    + "\n".join(f"print('line {i:03}')  # keeps going" for i in range(120))
    + "\n```\n\nRun it with python3."
)


async def test_a_long_answer_is_split_and_the_code_fence_is_reopened(
    make_config: ConfigFactory, fake_openai: FakeOpenAI, fake_discord: FakeDiscord
) -> None:
    fake_openai.reply = lambda request: FENCED
    fake_openai.chunk_words = 40
    fake = fake_discord
    async with serving(make_config()) as app:
        await fake.dispatch("MESSAGE_CREATE", fake.dm_message("a script please", channel_id=DM))
        await fake.wait_for(lambda: finished(fake, DM), what="the split answer")
        parts = [m["content"] for m in fake.sent_to(DM)]
        assert len(parts) >= 3 and all(len(p) <= 2000 for p in parts)
        assert all(p.count("```") % 2 == 0 for p in parts)  # every piece renders its code as code
        assert parts[1].startswith("```python\n") and parts[0].endswith("\n```")
        lines = [ln for p in parts for ln in p.splitlines() if ln.startswith("print(")]
        assert lines == [f"print('line {i:03}')  # keeps going" for i in range(120)]
        assert "Run it with python3." in parts[-1]
        assert [m["components"] != [] for m in fake.sent_to(DM)] == [False] * (len(parts) - 1) + [True]
        [reply] = await delivered_replies(app, dm_key())
        assert (
            reply.status is MessageStatus.DELIVERED
            and reply.platform_message_id == fake.sent_to(DM)[-1]["id"]
        )


async def test_a_429_on_send_is_retried_by_discord_py(
    make_config: ConfigFactory, fake_openai: FakeOpenAI, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    fake.fail_next("POST", rf"/channels/{DM}/messages", 429, retry_after=0.05)
    async with serving(make_config()) as app:
        await ask_dm(fake, "rate limited", 1)
        posts = fake.find("POST", rf"/channels/{DM}/messages")
        assert len(posts) == 2 and posts[1].at - posts[0].at >= 0.05
        statuses = [m.status for m in await delivered_replies(app, dm_key())]
        assert statuses == [MessageStatus.DELIVERED]


async def test_a_send_that_keeps_failing_is_retried_then_marked_failed_in_one_line(
    make_config: ConfigFactory,
    fake_openai: FakeOpenAI,
    fake_discord: FakeDiscord,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake = fake_discord
    fake.fail_next("POST", rf"/channels/{DM}/messages", 403, times=20)
    async with serving(make_config()) as app:
        await fake.dispatch("MESSAGE_CREATE", fake.dm_message("anyone there?", channel_id=DM))

        async def replies(status: MessageStatus) -> list[Any]:
            conv = await app.store.find_conversation(dm_key())
            msgs = await app.store.messages(conv.id, 10) if conv else []
            return [m for m in msgs if m.role is not Role.USER and m.status is status]

        [pending] = await until(lambda: replies(MessageStatus.PENDING), "the reply left pending")
        await until(lambda: _has_error(app, pending.id), "the failed attempt counted")
        for _ in range(MAX_ATTEMPTS - 1):  # the outbox's retries, without their waits
            assert await retry_now(app) == 0
        [failed] = await replies(MessageStatus.FAILED)
        assert failed.id == pending.id and "Missing Permissions" in (failed.error or "")
        assert [r.getMessage() for r in caplog.records if "attempts" in r.getMessage()] == [
            f"reply {failed.id} (discord message {failed.id - 1}) was not delivered after {MAX_ATTEMPTS}"
            f" attempts: {failed.error}"
        ]
        assert await retry_now(app) == 0  # failed for good: never tried again
        posts = fake.find("POST", rf"/channels/{DM}/messages")
        assert fake.sent_to(DM) == [] and len(posts) == 1 + MAX_ATTEMPTS  # the interim post, then each try


async def _has_error(app: App, reply_id: int) -> bool:
    conv = await app.store.find_conversation(dm_key())
    msgs = await app.store.messages(conv.id, 10) if conv else []
    return any(m.id == reply_id and m.error for m in msgs)


async def test_a_thread_that_cannot_be_started_falls_back_to_a_reply(
    make_config: ConfigFactory,
    fake_openai: FakeOpenAI,
    fake_discord: FakeDiscord,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake = fake_discord
    fake.fail_next("POST", r"/channels/\d+/messages/\d+/threads", 403)
    async with serving(make_config()):
        question = fake.guild_message("no threads here")
        await fake.dispatch("MESSAGE_CREATE", question)
        await fake.wait_for(lambda: finished(fake, fake.channel_id), what="the inline answer")
        [first] = fake.find("POST", rf"/channels/{fake.channel_id}/messages")
        assert str(first.body["message_reference"]["message_id"]) == question["id"]
        assert "Create Public Threads" in caplog.text and 'mention_mode = "reply"' in caplog.text


async def test_escalate_and_resolve_commands(
    make_config: ConfigFactory, fake_openai: FakeOpenAI, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    config = make_config(f'[escalation]\nstaff_role_ids = ["{fake.staff_role_id}"]\n')
    async with serving(config) as app:
        question = fake.guild_message("I need a refund")
        await fake.dispatch("MESSAGE_CREATE", question)
        thread = int(question["id"])
        await fake.wait_for(lambda: finished(fake, thread), what="the first answer")
        key = ThreadKey("discord", str(fake.guild_id), str(fake.channel_id), str(thread))

        user: dict[str, Any] = {"channel_id": thread, "user_id": 901, "name": "Grace", "roles": []}
        await fake.dispatch(
            "INTERACTION_CREATE", fake.slash("escalate", options={"reason": "refund"}, **user)
        )
        await fake.wait_for(lambda: len(fake.replies) == 1, what="the /escalate response")
        assert "person" in fake.replies[0]["content"] and fake.replies[0]["flags"] & 64  # ephemeral
        conv = await app.store.find_conversation(key)
        assert conv is not None
        record = await app.store.current_escalation(conv.id)
        assert record is not None and (record.state, record.reason, record.trigger) == (
            "waiting",
            "refund",
            "command",
        )
        assert record.requested_by == "901"

        # While escalated the bot stays silent in the thread.
        await fake.dispatch("MESSAGE_CREATE", fake.guild_message("hello?", channel_id=thread))
        await fake.dispatch("INTERACTION_CREATE", fake.slash("resolve", **user))
        await fake.wait_for(lambda: len(fake.replies) == 2, what="the refused /resolve")
        assert "Only support staff" in fake.replies[1]["content"]
        assert await app.store.current_escalation(conv.id) is not None
        assert len(fake.sent_to(thread)) == 1 and len(fake_openai.requests) == 1

        staff: dict[str, Any] = {
            "channel_id": thread,
            "user_id": STAFF,
            "name": "Sam",
            "roles": [fake.staff_role_id],
        }
        await fake.dispatch("INTERACTION_CREATE", fake.slash("resolve", **staff))
        await fake.wait_for(lambda: len(fake.replies) == 3, what="the staff /resolve")
        assert "Resolved" in fake.replies[2]["content"]
        assert await app.store.current_escalation(conv.id) is None
        conv = await app.store.find_conversation(key)
        assert conv is not None and conv.state == "bot"


async def test_escalate_in_a_dm_and_help(
    make_config: ConfigFactory, fake_openai: FakeOpenAI, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    async with serving(make_config()) as app:
        await ask_dm(fake, "hi", 1)
        await fake.dispatch("INTERACTION_CREATE", fake.slash("escalate", channel_id=DM))
        await fake.dispatch("INTERACTION_CREATE", fake.slash("help", channel_id=DM))
        await fake.wait_for(lambda: len(fake.replies) == 2, what="two responses")
        texts = sorted(r["content"] for r in fake.replies)
        assert "/escalate" in texts[0] and "person" in texts[1]
        open_ = await app.store.open_escalations()
        assert [(k, e.trigger) for e, k in open_] == [(dm_key(), "command")]


async def test_slow_work_is_deferred_then_followed_up(
    make_config: ConfigFactory, fake_openai: FakeOpenAI, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    async with serving(make_config(), defer_after_s=0.0):
        # /escalate waits on the database, so it is not done at once: deferred, then followed up.
        await fake.dispatch("INTERACTION_CREATE", fake.slash("escalate", channel_id=DM))
        await fake.wait_for(lambda: len(fake.replies) == 2, what="defer and follow-up")
        deferred, follow_up = fake.replies
        assert deferred["callback_type"] == 5 and deferred["flags"] & 64
        assert follow_up["callback_type"] is None and follow_up["flags"] & 64
        assert "person" in follow_up["content"]


async def test_answer_buttons_store_feedback_and_escalate_even_after_a_restart(
    make_config: ConfigFactory, fake_openai: FakeOpenAI, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    config = make_config()
    async with serving(config):
        [answer] = await ask_dm(fake, "is this helpful?", 1)
    ids = custom_ids(answer)
    assert [i.rsplit(":", 1)[0] for i in ids] == [
        "supportbot:up", "supportbot:down", "supportbot:solved", "supportbot:human",
    ]  # fmt: skip
    reply_id = int(ids[0].rsplit(":", 1)[1])

    async with serving(config) as app:  # a new process: no view kept in memory
        await fake.dispatch("INTERACTION_CREATE", fake.click(answer, ids[0], user_id=902))
        await fake.wait_for(lambda: len(fake.replies) == 1, what="the refused vote")
        assert fake.replies[0]["content"] == "Only the person I was answering can rate this."
        await fake.dispatch("INTERACTION_CREATE", fake.click(answer, ids[0], user_id=900))
        await fake.dispatch("INTERACTION_CREATE", fake.click(answer, ids[1], user_id=900))
        await fake.wait_for(lambda: len(fake.replies) == 3, what="feedback acknowledgements")
        await fake.dispatch("INTERACTION_CREATE", fake.click(answer, ids[2], user_id=902))
        await fake.wait_for(lambda: len(fake.replies) == 4, what="the refused That solved it")
        await fake.dispatch("INTERACTION_CREATE", fake.click(answer, ids[2], user_id=900))
        await fake.wait_for(lambda: len(fake.replies) == 5, what="the answers to That solved it")
        assert [r["content"] for r in fake.replies[3:5]] == [
            "Only the person I was answering can rate this.",
            "Glad that solved it! Thanks for letting us know.",
        ]
        await fake.dispatch("INTERACTION_CREATE", fake.click(answer, ids[3], user_id=900))
        await fake.wait_for(lambda: len(fake.replies) == 6, what="the escalation response")
        assert all(r["flags"] & 64 for r in fake.replies)
        assert "person" in fake.replies[5]["content"]
        solved = await sqlite_db(app).execute_fetchall("SELECT message_id, user_id FROM solved")
        assert [tuple(r) for r in solved] == [(reply_id, "900")]
        rows = await sqlite_db(app).execute_fetchall(
            "SELECT message_id, user_id, value FROM feedback ORDER BY user_id"
        )
        assert [tuple(r) for r in rows] == [(reply_id, "900", -1)]  # the asker changed their mind
        open_ = await app.store.open_escalations()
        assert [(k, e.trigger, e.requested_by) for e, k in open_] == [(dm_key(), "button", "900")]
        # The 👎 came with its own offer of a person, which escalates as feedback.
        [offer] = [custom_ids(r) for r in fake.replies if r.get("components")]
        assert offer == [f"supportbot:feedback:{reply_id}"]


async def test_commands_are_synced_globally_or_to_the_configured_guilds(
    make_config: ConfigFactory, fake_openai: FakeOpenAI, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    async with serving(make_config()):
        [synced] = fake.find("PUT", r"/applications/\d+/commands")
        assert sorted(c["name"] for c in synced.body) == ["escalate", "help", "resolve"]
    fake.calls.clear()
    async with serving(make_config(f'[discord]\nguild_ids = ["{fake.guild_id}"]\n')):
        [in_guild] = fake.find("PUT", rf"/applications/\d+/guilds/{fake.guild_id}/commands")
        assert sorted(c["name"] for c in in_guild.body) == ["escalate", "help", "resolve"]
        [global_] = fake.find("PUT", r"/applications/\d+/commands")
        assert global_.body == []  # no duplicates left from a global sync


async def test_start_errors_name_the_fix(
    make_config: ConfigFactory,
    fake_openai: FakeOpenAI,
    fake_discord: FakeDiscord,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = fake_discord
    fake.reject_message_content = True
    with pytest.raises(AdapterStartError, match=r"Message Content Intent.*Privileged Gateway Intents"):
        async with serving(make_config("[discord]\nmessage_content_intent = true\n")):
            pass
    monkeypatch.setenv("DISCORD_BOT_TOKEN", "MTIz.bad.token")
    with pytest.raises(AdapterStartError, match=r"token was refused.*Reset Token") as refused:
        async with serving(make_config()):
            pass
    assert "MTIz.bad.token" not in str(refused.value)
    monkeypatch.setenv("DISCORD_BOT_TOKEN", fake.token)
    monkeypatch.setenv("DISCORD_GATEWAY_URL", "ws://127.0.0.1:9/")  # nothing listens there
    with pytest.raises(AdapterStartError, match="DISCORD_GATEWAY_URL"):
        async with serving(make_config(), ready_timeout_s=1.0):
            pass


async def run_discord_process(config: LoadedConfig) -> asyncio.subprocess.Process:
    """`supportbot run --discord` as a real process, configured by env vars only (stderr piped)."""
    env = os.environ | {"SUPPORTBOT_CONFIG": str(config.config_file)}
    env.pop("SLACK_BOT_TOKEN", None)
    return await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "supportbot"),
        "run",
        "--discord",
        env=env,
        stderr=asyncio.subprocess.PIPE,
    )


async def test_supportbot_run_discord_answers_dms_through_the_configured_urls(
    make_config: ConfigFactory, fake_openai: FakeOpenAI, fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    """The stable contract: env vars only, a real `supportbot run --discord` process."""
    fake = fake_discord
    proc = await run_discord_process(make_config())
    try:
        await fake.wait_connected(within=30)
        await ask_dm(fake, "hello from a real process", 1)
        assert "hello from a real process" in fake.sent_to(DM)[0]["content"]
        assert fake.find("GET", "/users/@me") and fake.identifies[0]["token"] == fake.token
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        assert proc.stderr is not None
        stderr = (await asyncio.wait_for(proc.stderr.read(), timeout=30)).decode()
        code = await asyncio.wait_for(proc.wait(), timeout=30)
    assert code == 0, stderr
    assert "discord adapter running" in stderr and fake.token not in stderr


async def test_supportbot_run_exits_when_the_gateway_is_lost_for_good(
    make_config: ConfigFactory, fake_openai: FakeOpenAI, fake_discord: FakeDiscord
) -> None:
    """A token revoked while running (close code 4004): discord.py stops reconnecting, so the
    process exits non-zero for its supervisor to restart it, instead of staying up deaf."""
    proc = await run_discord_process(make_config())
    assert proc.stderr is not None
    seen: list[str] = []
    try:
        while not seen or "discord adapter running" not in seen[-1]:  # start() has returned
            line = await asyncio.wait_for(proc.stderr.readline(), timeout=30)
            assert line, "".join(seen)
            seen.append(line.decode())
        await fake_discord.disconnect_all(4004, "Authentication failed.")
        code = await asyncio.wait_for(proc.wait(), timeout=30)
    finally:
        if proc.returncode is None:
            proc.kill()
    stderr = "".join(seen) + (await proc.stderr.read()).decode()
    assert code == 1, stderr
    assert "the gateway refused the bot token" in stderr and "lost for good" in stderr
    assert len(fake_discord.identifies) == 1  # no reconnect loop with a refused token


async def test_the_offer_after_a_thumbs_down_escalates_as_feedback(
    make_config: ConfigFactory, fake_openai: FakeOpenAI, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    async with serving(make_config()) as app:
        [answer] = await ask_dm(fake, "is this helpful?", 1)
        down = custom_ids(answer)[1]
        await fake.dispatch("INTERACTION_CREATE", fake.click(answer, down, user_id=900))
        await fake.wait_for(lambda: len(fake.replies) == 1, what="the 👎 acknowledgement")
        offer = fake.replies[0]
        assert offer["content"].startswith("Sorry that didn't help")
        in_dm = offer | {"channel_id": answer["channel_id"]}  # the ephemeral reply sits in the DM
        await fake.dispatch("INTERACTION_CREATE", fake.click(in_dm, custom_ids(offer)[0], user_id=900))
        await fake.wait_for(lambda: len(fake.replies) == 2, what="the escalation response")
        open_ = await app.store.open_escalations()
        assert [(e.trigger, e.reason) for e, _ in open_] == [("feedback", "the answer didn't help")]


async def test_a_message_left_unanswered_by_a_stop_is_answered_on_start_with_its_buttons(
    make_config: ConfigFactory, fake_openai: FakeOpenAI, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    async with serving(make_config()) as app:
        # The store stamps a message when it writes it, so "before this run started" is after that.
        await left_unanswered(app.store, dm_key(), "m-1", "where are my invoices?", datetime.now(UTC))
        assert await answer_unanswered(app, datetime.now(UTC) + timedelta(milliseconds=1)) == 1
        [answer] = fake.sent_to(DM)
        assert answer["content"] == "Echo (2 messages): where are my invoices?"
        assert answer["flags"] & 4  # no link previews, like a live answer
        assert [i.rsplit(":", 1)[0] for i in custom_ids(answer)] == [
            "supportbot:up",
            "supportbot:down",
            "supportbot:solved",
            "supportbot:human",
        ]
        conv = await app.store.find_conversation(dm_key())
        assert conv is not None
        _, reply = await app.store.messages(conv.id, 5)
        assert (reply.status, reply.platform_message_id) == (MessageStatus.DELIVERED, answer["id"])


async def test_a_mention_left_unanswered_before_its_thread_was_started_gets_the_thread_on_start(
    make_config: ConfigFactory, fake_openai: FakeOpenAI, fake_discord: FakeDiscord
) -> None:
    """A stop between storing a mention and starting its thread: the answer starts the thread (the
    conversation's id is the question's, which is no channel until a thread is started from it)."""
    fake = fake_discord
    question = fake.wrote_while_away(fake.guild_message("where are my invoices?"))
    key = ThreadKey("discord", str(fake.guild_id), str(fake.channel_id), question["id"])
    async with serving(make_config()) as app:
        await left_unanswered(app.store, key, question["id"], "where are my invoices?", datetime.now(UTC))
        assert await answer_unanswered(app, datetime.now(UTC) + timedelta(milliseconds=1)) == 1
        [answer] = fake.sent_to(int(question["id"]))
        assert answer["content"] == "Echo (2 messages): where are my invoices?" and answer["components"]
        [started] = fake.find("POST", rf"/channels/{fake.channel_id}/messages/{question['id']}/threads")
        assert started.body["name"] == "where are my invoices?"
        assert not fake.sent_to(fake.channel_id)
        [reply] = await delivered_replies(app, key)
        assert reply.platform_message_id == answer["id"]


async def test_a_grounded_answer_ends_with_its_sources(
    make_config: ConfigFactory, fake_openai: FakeOpenAI, fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    write_kb(tmp_path)
    fake_openai.reply = citing_reply
    async with serving(make_config(KB_TOML, kb=True)):
        [answer] = await ask_dm(fake_discord, "can I get a refund on my annual plan?", 1)
    assert "<reference-" in fake_openai.requests[0]["messages"][-2]["content"]
    assert answer["content"] == (
        "Annual plans are refunded within 30 days [1].\n\n"
        "Sources:\n[1] Refunds — https://help.example.com/refunds"
    )
    assert answer["flags"] & 4  # SUPPRESS_EMBEDS: no preview card per source link
