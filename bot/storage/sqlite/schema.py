"""The conversation store's SQLite tables: the "store" migration set, versioned in `PRAGMA user_version`."""

from __future__ import annotations

from bot.storage.migrations import Migration, MigrationSet

# Each migration takes the schema from version - 1 to version; append, never edit.
STORE = MigrationSet(
    "store",
    (
        Migration(
            1,
            (
                """CREATE TABLE conversations (
                    id INTEGER PRIMARY KEY,
                    platform TEXT NOT NULL,
                    workspace TEXT NOT NULL,
                    channel TEXT NOT NULL,
                    thread TEXT NOT NULL,
                    state TEXT NOT NULL DEFAULT 'bot',
                    created_at TEXT NOT NULL,
                    updated_at TEXT NOT NULL,
                    UNIQUE (platform, workspace, channel, thread)
                )""",
                """CREATE TABLE messages (
                    id INTEGER PRIMARY KEY,
                    conversation_id INTEGER NOT NULL REFERENCES conversations (id),
                    platform TEXT NOT NULL,
                    platform_message_id TEXT,
                    role TEXT NOT NULL,
                    text TEXT NOT NULL,
                    user_id TEXT NOT NULL DEFAULT '',
                    user_name TEXT NOT NULL DEFAULT '',
                    status TEXT NOT NULL,
                    error TEXT,
                    reply_to INTEGER REFERENCES messages (id),
                    tokens INTEGER NOT NULL DEFAULT 0,
                    model TEXT,
                    prompt_tokens INTEGER,
                    completion_tokens INTEGER,
                    cost_usd REAL,
                    created_at TEXT NOT NULL,
                    updated_at TEXT NOT NULL
                )""",
                # A platform delivers a user message at most once as far as we are concerned.
                """CREATE UNIQUE INDEX messages_inbound_once ON messages (platform, platform_message_id)
                    WHERE role = 'user' AND platform_message_id IS NOT NULL""",
                # History is read newest first within one conversation.
                "CREATE INDEX messages_by_conversation ON messages (conversation_id, id)",
            ),
        ),
        Migration(
            2,
            (
                """CREATE TABLE escalations (
                    id INTEGER PRIMARY KEY,
                    conversation_id INTEGER NOT NULL REFERENCES conversations (id),
                    state TEXT NOT NULL,
                    reason TEXT NOT NULL DEFAULT '',
                    trigger TEXT NOT NULL,
                    requested_by TEXT NOT NULL,
                    requested_at TEXT NOT NULL,
                    claimed_by TEXT,
                    claimed_at TEXT,
                    resolved_by TEXT,
                    resolved_at TEXT
                )""",
                # At most one open escalation per conversation.
                "CREATE UNIQUE INDEX escalations_open ON escalations (conversation_id)"
                " WHERE resolved_at IS NULL",
                """CREATE TABLE feedback (
                    message_id INTEGER NOT NULL REFERENCES messages (id),
                    user_id TEXT NOT NULL,
                    value INTEGER NOT NULL,
                    created_at TEXT NOT NULL,
                    PRIMARY KEY (message_id, user_id)
                )""",
                # "The user's latest conversation in this channel" (Slack's /escalate carries no thread).
                "CREATE INDEX messages_by_user ON messages (platform, user_id, id) WHERE role = 'user'",
            ),
        ),
        Migration(
            3,
            (
                # Where the handoff card went (its thread carries the relay), reminders, satisfaction.
                "ALTER TABLE escalations ADD COLUMN staff_platform TEXT",
                "ALTER TABLE escalations ADD COLUMN staff_channel TEXT",
                "ALTER TABLE escalations ADD COLUMN staff_thread TEXT",
                "ALTER TABLE escalations ADD COLUMN relay INTEGER NOT NULL DEFAULT 0",
                "ALTER TABLE escalations ADD COLUMN reminded_at TEXT",
                "ALTER TABLE escalations ADD COLUMN satisfaction INTEGER",
                "CREATE INDEX escalations_by_staff_thread"
                " ON escalations (staff_platform, staff_channel, staff_thread)",
            ),
        ),
        Migration(
            4,
            (
                # Messages stored but never answered (the process stopped mid-answer), for the sweep.
                "CREATE INDEX messages_unanswered ON messages (created_at) WHERE status = 'received'",
            ),
        ),
        Migration(
            5,
            (
                # A message with a reply is answered, whatever its status says (see record_reply).
                "CREATE INDEX messages_replies ON messages (reply_to) WHERE reply_to IS NOT NULL",
            ),
        ),
        Migration(
            6,
            (
                # Analytics (bot/analytics/): what each answer stood on and how long it took to show.
                """CREATE TABLE answer_facts (
                    message_id INTEGER PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
                    grounding TEXT,
                    sign_s REAL,
                    first_token_s REAL,
                    complete_s REAL
                )""",
                # "That solved it" under a reply.
                """CREATE TABLE solved (
                    message_id INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
                    user_id TEXT NOT NULL,
                    created_at TEXT NOT NULL,
                    PRIMARY KEY (message_id, user_id)
                )""",
                # Staff messages (role 'staff') are stored once per platform message, like user ones.
                """CREATE UNIQUE INDEX messages_staff_once ON messages (platform, platform_message_id)
                    WHERE role = 'staff' AND platform_message_id IS NOT NULL""",
                # The learning loop: help entries drafted from staff answers. They outlive the
                # conversation they came from (retention), so the ids are plain numbers, not keys.
                """CREATE TABLE learned_entries (
                    id INTEGER PRIMARY KEY,
                    escalation_id INTEGER NOT NULL UNIQUE,
                    conversation_id INTEGER NOT NULL,
                    question TEXT NOT NULL,
                    answer TEXT NOT NULL,
                    drafted_by TEXT NOT NULL,
                    status TEXT NOT NULL DEFAULT 'proposed',
                    created_at TEXT NOT NULL,
                    decided_at TEXT,
                    decided_by TEXT
                )""",
                "CREATE INDEX conversations_by_created ON conversations (created_at)",
            ),
        ),
        Migration(
            7,
            (
                # The outbox: the platform messages showing an answer so far (on the user message),
                # and a reply's failed delivery attempts and when to try again.
                "ALTER TABLE messages ADD COLUMN shown_as TEXT",
                "ALTER TABLE messages ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0",
                "ALTER TABLE messages ADD COLUMN retry_at TEXT",
                "CREATE INDEX messages_pending ON messages (created_at) WHERE status = 'pending'",
            ),
        ),
        Migration(
            8,
            (
                # A platform's read-back of what arrived while it was away (Discord: per gateway
                # shard), from when it is due: kept until a read-back has stored what it found, so
                # a process stopped before that leaves the next one to read from the same moment.
                """CREATE TABLE read_backs (
                    platform TEXT NOT NULL,
                    shard INTEGER NOT NULL,
                    due_since TEXT NOT NULL,
                    PRIMARY KEY (platform, shard)
                )""",
            ),
        ),
    ),
)
