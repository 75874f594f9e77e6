-- natter schema: Web Push subscriptions.
--
-- One row per browser that asked for notifications: where its push service
-- takes messages (`endpoint`, unique: one browser profile has one) and the
-- keys the payload is encrypted to. A row belongs to the session that made
-- it, so logging out (or any revocation of that session) stops the pushes
-- to that device; the trigger below covers every way a session is revoked.
-- The server's own VAPID key pair is in `meta` (`vapid_private_key`).
CREATE TABLE push_subscriptions (
    id         INTEGER PRIMARY KEY,
    user       INTEGER NOT NULL REFERENCES users(number) ON DELETE CASCADE,
    session    TEXT REFERENCES sessions(id) ON DELETE CASCADE,
    endpoint   TEXT NOT NULL UNIQUE,
    p256dh     TEXT NOT NULL,                           -- base64url, as the browser gave it
    auth       TEXT NOT NULL,                           -- base64url
    created_at INTEGER NOT NULL
);
CREATE INDEX push_subscriptions_by_user ON push_subscriptions(user, created_at);
CREATE INDEX push_subscriptions_by_session ON push_subscriptions(session);

CREATE TRIGGER push_subscriptions_end_with_session
AFTER UPDATE OF revoked_at ON sessions
WHEN NEW.revoked_at IS NOT NULL
BEGIN
    DELETE FROM push_subscriptions WHERE session = NEW.id;
END;
