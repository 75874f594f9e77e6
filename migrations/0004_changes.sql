-- natter schema, version 4: one ordered log of every change.
--
-- Each change a client must not miss (a message sent, edited or deleted, a
-- read mark moved, a room made, joined, left, renamed or deleted, a
-- reaction) is a row here, written in the same transaction as the change.
-- Its id comes from one sequence: a socket resumes from the last id it saw
-- and is sent every change after it, in order.
--
-- A message's id IS the id of the change that sent it (the message is
-- stored with the id its `message` change was given), so the message ids
-- clients already hold are cursors into this log, and message ids stay
-- strictly increasing. `AUTOINCREMENT`: an id is never handed out twice,
-- even after the newest rows are pruned.
CREATE TABLE changes (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation INTEGER NOT NULL,                     -- no foreign key: a deleted room's changes stay
    kind         TEXT NOT NULL,                        -- message, edited, deleted, read, room, reaction
    message      INTEGER,                              -- edited, deleted, reaction (a `message` change: its own id)
    user         INTEGER,                              -- who: the reader, who joined or left, who reacted
    audience     INTEGER NOT NULL DEFAULT 0,           -- 0 the members, 1 the members and `user`, 2 everyone
    data         TEXT,                                 -- JSON: what the kind needs to be replayed
    at           INTEGER NOT NULL
);

-- Every message already stored is in the log under its own id.
INSERT INTO changes (id, conversation, kind, user, at)
SELECT id, conversation, 'message', sender, created_at FROM messages ORDER BY id;

-- Ids messages once had (the newest, since deleted with their room) are
-- not handed out again: the log's sequence starts where the messages' was.
INSERT INTO sqlite_sequence (name, seq)
SELECT 'changes', 0 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'changes');
UPDATE sqlite_sequence
   SET seq = MAX(seq, COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'messages'), 0))
 WHERE name = 'changes';
