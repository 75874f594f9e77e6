-- natter schema, version 1.
--
-- Applied by `natter --init-db` (or on first start) inside one transaction;
-- PRAGMA user_version records which migrations have run. Times are
-- microseconds since the Unix epoch (UTC). Every table keys on an integer
-- `number`/`id` for compact joins; public UUIDs sit beside them for the
-- dialects that show UUIDs.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
) WITHOUT ROWID;

CREATE TABLE users (
    number          INTEGER PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,              -- UUID
    username        TEXT NOT NULL COLLATE NOCASE,      -- as the user wrote it
    username_key    TEXT NOT NULL UNIQUE,              -- lowercased (Unicode): lookups and uniqueness
    email           TEXT COLLATE NOCASE,
    email_key       TEXT UNIQUE,                       -- lowercased email
    password_hash   TEXT NOT NULL,                     -- argon2id PHC string, never returned
    name            TEXT NOT NULL DEFAULT '',
    first_name      TEXT NOT NULL DEFAULT '',
    last_name       TEXT NOT NULL DEFAULT '',
    bio             TEXT NOT NULL DEFAULT '',
    profile_picture TEXT NOT NULL DEFAULT '',
    public_key      TEXT,
    ready_to_chat   INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    last_seen_at    INTEGER
);
-- Searching by name (`?q=`) is a scan over a small table; username and email
-- lookups use the UNIQUE key indexes. No user's username may equal another
-- user's email (the core checks), so a login name finds at most one user.

-- A login. Access tokens carry the session id; revoking the session refuses
-- them from the next request on.
CREATE TABLE sessions (
    id           TEXT PRIMARY KEY,                     -- UUID
    user         INTEGER NOT NULL REFERENCES users(number) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,                     -- when the refresh chain ends
    revoked_at   INTEGER,
    current_room INTEGER REFERENCES conversations(number) ON DELETE SET NULL
) WITHOUT ROWID;
CREATE INDEX sessions_by_user ON sessions(user);
CREATE INDEX sessions_revoked ON sessions(revoked_at) WHERE revoked_at IS NOT NULL;

-- Every refresh token ever issued, by SHA-256. A token is used once; showing
-- a used one again means it was stolen, and the whole session is revoked.
CREATE TABLE refresh_tokens (
    hash    BLOB PRIMARY KEY,
    session TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    used_at INTEGER
) WITHOUT ROWID;
CREATE INDEX refresh_tokens_by_session ON refresh_tokens(session);

CREATE TABLE conversations (
    number     INTEGER PRIMARY KEY,
    id         TEXT NOT NULL UNIQUE,                   -- UUID
    kind       TEXT NOT NULL CHECK (kind IN ('room', 'direct', 'ai')),
    name       TEXT COLLATE NOCASE,                    -- rooms only
    direct_key TEXT UNIQUE,                            -- 'low:high' user numbers, direct only
    created_by INTEGER REFERENCES users(number) ON DELETE SET NULL,
    created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX rooms_by_name ON conversations(name) WHERE kind = 'room';

CREATE TABLE members (
    conversation INTEGER NOT NULL REFERENCES conversations(number) ON DELETE CASCADE,
    user         INTEGER NOT NULL REFERENCES users(number) ON DELETE CASCADE,
    last_read    INTEGER NOT NULL DEFAULT 0,           -- id of the last message read
    joined_at    INTEGER NOT NULL,
    PRIMARY KEY (conversation, user)
) WITHOUT ROWID;
CREATE INDEX members_by_user ON members(user, conversation);

CREATE TABLE files (
    number       INTEGER PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,                 -- UUID
    owner        INTEGER NOT NULL REFERENCES users(number) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size         INTEGER NOT NULL,
    data         BLOB NOT NULL,
    created_at   INTEGER NOT NULL
);

-- AUTOINCREMENT: ids are never reused, so a message id is a safe sync cursor.
CREATE TABLE messages (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation INTEGER NOT NULL REFERENCES conversations(number) ON DELETE CASCADE,
    sender       INTEGER NOT NULL REFERENCES users(number) ON DELETE CASCADE,
    body         TEXT NOT NULL,
    file         INTEGER REFERENCES files(number) ON DELETE SET NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    deleted      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX messages_by_conversation ON messages(conversation, id);
CREATE INDEX messages_by_file ON messages(file) WHERE file IS NOT NULL;

CREATE TABLE friends (
    user       INTEGER NOT NULL REFERENCES users(number) ON DELETE CASCADE,
    friend     INTEGER NOT NULL REFERENCES users(number) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (user, friend)
) WITHOUT ROWID;

CREATE TABLE posts (
    id         INTEGER PRIMARY KEY,
    author     INTEGER NOT NULL REFERENCES users(number) ON DELETE CASCADE,
    title      TEXT NOT NULL,
    content    TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX posts_by_author ON posts(author, id);
