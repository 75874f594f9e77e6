-- natter schema: reactions.
--
-- A reaction is one user's emoji on one message; each change to them is
-- also a `reaction` row of the change log. (Replies need nothing new:
-- `messages.reply_to` holds them.)
CREATE TABLE reactions (
    message    INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    emoji      TEXT NOT NULL,
    user       INTEGER NOT NULL REFERENCES users(number) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (message, emoji, user)
) WITHOUT ROWID;
