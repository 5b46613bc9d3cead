-- The schema supportbot wrote before the shared migration runner (commit fca6604):
-- store at PRAGMA user_version 5, knowledge base at kb_meta.schema_version 2.
-- Generated from that code's SQLiteStore.open() and KnowledgeBase.setup(); do not edit.
CREATE TABLE conversations (
        id INTEGER PRIMARY KEY,
        platform TEXT NOT NULL,
        workspace TEXT NOT NULL,
        channel TEXT NOT NULL,
        thread TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'bot',
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        UNIQUE (platform, workspace, channel, thread)
    );
CREATE TABLE messages (
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
    );
CREATE UNIQUE INDEX messages_inbound_once ON messages (platform, platform_message_id)
        WHERE role = 'user' AND platform_message_id IS NOT NULL;
CREATE INDEX messages_by_conversation ON messages (conversation_id, id);
CREATE TABLE escalations (
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
    , staff_platform TEXT, staff_channel TEXT, staff_thread TEXT, relay INTEGER NOT NULL DEFAULT 0, reminded_at TEXT, satisfaction INTEGER);
CREATE UNIQUE INDEX escalations_open ON escalations (conversation_id) WHERE resolved_at IS NULL;
CREATE TABLE feedback (
        message_id INTEGER NOT NULL REFERENCES messages (id),
        user_id TEXT NOT NULL,
        value INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (message_id, user_id)
    );
CREATE INDEX messages_by_user ON messages (platform, user_id, id) WHERE role = 'user';
CREATE INDEX escalations_by_staff_thread
        ON escalations (staff_platform, staff_channel, staff_thread);
CREATE INDEX messages_unanswered ON messages (created_at) WHERE status = 'received';
CREATE INDEX messages_replies ON messages (reply_to) WHERE reply_to IS NOT NULL;
CREATE TABLE kb_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE kb_sources (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        root TEXT NOT NULL,
        url_template TEXT,
        include_pattern TEXT NOT NULL,
        indexed_at TEXT NOT NULL
    );
CREATE TABLE kb_documents (
        id INTEGER PRIMARY KEY,
        source_id INTEGER NOT NULL REFERENCES kb_sources(id),
        path TEXT NOT NULL,
        title TEXT NOT NULL,
        url TEXT,
        content_hash TEXT NOT NULL,
        UNIQUE (source_id, path)
    );
CREATE TABLE kb_chunks (
        id INTEGER PRIMARY KEY,
        document_id INTEGER NOT NULL REFERENCES kb_documents(id),
        ord INTEGER NOT NULL,
        section TEXT NOT NULL,
        text TEXT NOT NULL
    , digest TEXT NOT NULL DEFAULT '');
CREATE INDEX kb_chunks_document ON kb_chunks(document_id);
CREATE VIRTUAL TABLE kb_fts USING fts5(
        title, section, body, tokenize = 'porter unicode61 remove_diacritics 2'
    );
CREATE INDEX kb_chunks_digest ON kb_chunks(digest);
CREATE TABLE kb_vectors (
        model TEXT NOT NULL,
        digest TEXT NOT NULL,
        vector BLOB NOT NULL,  -- unit-normalised float32, little-endian
        PRIMARY KEY (model, digest)
    ) WITHOUT ROWID;
INSERT INTO kb_meta (key, value) VALUES ('schema_version', '2');
PRAGMA user_version = 5;
