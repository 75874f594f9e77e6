-- natter schema: mentions and notify levels.
--
-- A mention is an `@username` in a message that named a member of its
-- conversation (parsed by the server when the message is sent or edited).
-- The key leads with the user: "mentions of me" and the unread mentions of
-- one conversation are range reads; the second index serves a message's
-- own mentions and the cascade when it goes.
CREATE TABLE mentions (
    user    INTEGER NOT NULL REFERENCES users(number) ON DELETE CASCADE,
    message INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    PRIMARY KEY (user, message)
) WITHOUT ROWID;
CREATE INDEX mentions_by_message ON mentions(message, user);

-- What a member wants to hear of a conversation: every message, only the
-- ones that mention them (a direct conversation's messages all count), or
-- nothing (muted). Unread counts and notifications follow it.
ALTER TABLE members ADD COLUMN notify TEXT NOT NULL DEFAULT 'all'
    CHECK (notify IN ('all', 'mentions', 'nothing'));
