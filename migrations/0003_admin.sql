-- natter schema, version 3: who may join and who runs the server.
--
-- Roles: `admin` and `member`. The first account is the admin; a database
-- made before roles existed gets its oldest (human) account as the admin.
-- A deactivated account keeps its messages but cannot log in.

ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'member' CHECK (role IN ('admin', 'member'));
ALTER TABLE users ADD COLUMN deactivated_at INTEGER;
UPDATE users SET role = 'admin'
 WHERE number = (SELECT MIN(number) FROM users WHERE NOT is_bot);

-- Invitations: a link with a secret code (kept as its SHA-256), an expiry
-- and a number of uses.
CREATE TABLE invites (
    id          TEXT PRIMARY KEY,                      -- UUID, to list and revoke
    code_hash   BLOB NOT NULL UNIQUE,
    created_by  INTEGER REFERENCES users(number) ON DELETE SET NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER,                               -- NULL: never
    max_uses    INTEGER,                               -- NULL: unlimited
    uses        INTEGER NOT NULL DEFAULT 0,
    revoked_at  INTEGER
) WITHOUT ROWID;

-- One-time password reset links an admin makes for a user.
CREATE TABLE password_resets (
    token_hash  BLOB PRIMARY KEY,
    user        INTEGER NOT NULL REFERENCES users(number) ON DELETE CASCADE,
    created_by  INTEGER REFERENCES users(number) ON DELETE SET NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER
) WITHOUT ROWID;

-- Every admin action: who, what, to whom, when. `actor` is NULL for the
-- command line (`natter admin …`).
CREATE TABLE audit (
    id      INTEGER PRIMARY KEY,
    at      INTEGER NOT NULL,
    actor   INTEGER REFERENCES users(number) ON DELETE SET NULL,
    action  TEXT NOT NULL,
    target  TEXT NOT NULL DEFAULT '',
    detail  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_by_time ON audit(at);
