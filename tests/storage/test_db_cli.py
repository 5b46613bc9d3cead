"""`supportbot db copy --to URL` and `db backup FILE`, run as a user runs them, on real files and Postgres."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.events import IncomingMessage, ThreadKey, Usage
from bot.handoff.states import Trigger
from bot.storage.postgres import PostgresStore
from bot.storage.sqlite import SQLiteStore
from bot.storage.store import ConversationState, MessageStatus, Role
from tests.cli.test_cli import cli_env, run_cli
from tests.postgres import fresh_database

KEY = ThreadKey("slack", "T1", "C1", "100.1")
ESCALATED = ThreadKey("discord", "G1", "C2", "T2")
PENDING = ThreadKey("slack", "T1", "C1", "200.1")
RETRY_AT = datetime(2030, 1, 1, tzinfo=UTC)  # when the pending reply's next attempt is due


async def _fill(path: Path) -> int:
    """An SQLite database with an answered exchange (priced), feedback, a claimed escalation and a
    reply the outbox still has to deliver (partly shown, one failed attempt); returns the first
    reply's id."""
    store = SQLiteStore(path)
    await store.open()
    try:
        at = datetime.now(UTC)
        asked = await store.record_inbound(IncomingMessage(KEY, "m1", "U1", "Ada", "where?", False, at), 2)
        assert asked is not None
        usage = Usage("gpt-4o", 10, 5, 0.25)
        reply = await store.record_reply(
            asked, Role.ASSISTANT, "here", 1, usage, settles=MessageStatus.ANSWERED
        )
        await store.mark_delivered(reply, "171.2")
        await store.record_feedback(reply, "U1", 1)
        other = await store.record_inbound(IncomingMessage(ESCALATED, "m2", "9", "Bo", "help", True, at), 1)
        assert other is not None
        await store.open_escalation(other.conversation_id, reason="wants a person", trigger=Trigger.KEYWORD,
                                    requested_by="9")  # fmt: skip
        await store.claim_escalation(other.conversation_id, "S1")
        waiting = await store.record_inbound(
            IncomingMessage(PENDING, "m4", "U1", "Ada", "and?", False, at), 1
        )
        assert waiting is not None
        pending = await store.record_reply(
            waiting, Role.ASSISTANT, "soon", 1, None, settles=MessageStatus.ANSWERED
        )
        await store.note_shown(waiting.id, ["201.1", "201.2"])
        await store.retry_later(pending, "TimeoutError", RETRY_AT)
        return reply
    finally:
        await store.close()


async def test_db_copy_moves_every_conversation_into_postgres(tmp_path: Path) -> None:
    env = cli_env(tmp_path, None)
    reply_id = await _fill(Path(env["SUPPORTBOT_DATABASE__PATH"]))
    async with fresh_database() as url:
        code, out, err = await run_cli("db", "copy", "--to", url, env=env)
        assert code == 0, err
        assert "3 conversations, 5 messages, 1 escalations, 1 feedback" in out
        store = PostgresStore(url)
        await store.open()
        try:
            conv = await store.find_conversation(KEY)
            assert conv is not None
            texts = [
                (m.role, m.text, m.status, m.platform_message_id) for m in await store.messages(conv.id, 10)
            ]
            assert texts == [
                (Role.USER, "where?", MessageStatus.ANSWERED, "m1"),
                (Role.ASSISTANT, "here", MessageStatus.DELIVERED, "171.2"),
            ]
            assert (await store.asker_of(reply_id)) == (conv, "U1")
            stats = await store.stats()
            assert [(m.model, m.cost_usd) for m in stats.by_model] == [("gpt-4o", 0.25)]
            [(record, key)] = await store.open_escalations()
            assert key == ESCALATED and record.claimed_by == "S1"
            escalated = await store.find_conversation(ESCALATED)
            assert escalated is not None and escalated.state == ConversationState.HUMAN
            # The outbox's state: what is shown of the pending reply, its attempts and next try.
            long_ago = datetime(2000, 1, 1, tzinfo=UTC)
            assert await store.undelivered(long_ago, RETRY_AT - timedelta(seconds=1)) == []
            [left] = await store.undelivered(long_ago, RETRY_AT)
            assert (left.key, left.reply.text, left.reply.error, left.attempts) == (
                PENDING,
                "soon",
                "TimeoutError",
                1,
            )
            assert left.inbound.shown_as == ("201.1", "201.2")
            # New rows continue after the copied ids, and a copied message is still a duplicate.
            again = IncomingMessage(KEY, "m1", "U1", "Ada", "where?", False, datetime.now(UTC))
            assert await store.record_inbound(again, 2) is None
            new = await store.record_inbound(
                IncomingMessage(KEY, "m3", "U1", "Ada", "and?", False, again.received_at), 1
            )
            assert new is not None and new.id > reply_id
        finally:
            await store.close()
        # A second copy would mix two histories: refused in one line, nothing changed.
        code, _, err = await run_cli("db", "copy", "--to", url, env=env)
        assert code == 1 and "already holds conversations" in err and "Traceback" not in err


async def test_db_backup_writes_a_consistent_copy_and_points_postgres_at_pg_dump(tmp_path: Path) -> None:
    env = cli_env(tmp_path, None)
    await _fill(Path(env["SUPPORTBOT_DATABASE__PATH"]))
    target = tmp_path / "backup.db"
    code, out, err = await run_cli("db", "backup", str(target), env=env)
    assert code == 0, err
    assert f"to {target}" in out
    with sqlite3.connect(target) as copy:
        assert copy.execute("SELECT text FROM messages ORDER BY id").fetchall() == [
            ("where?",),
            ("here",),
            ("help",),
            ("and?",),
            ("soon",),
        ]
    code, _, err = await run_cli("db", "backup", str(target), env=env)
    assert code == 1 and "already exists" in err
    code, _, err = await run_cli(
        "db", "backup", str(tmp_path / "pg.dump"),
        env=env | {"SUPPORTBOT_DATABASE__URL": "postgresql://bot:s3cret@db.example:5432/bot"},
    )  # fmt: skip
    assert code == 1 and "pg_dump" in err and "s3cret" not in err
