-- natter schema, version 5: full-text search over messages.
--
-- Two FTS5 indexes of every message's text, keyed by the message id (their
-- rowid), both folding case and removing diacritics ("cafe" finds "café"):
--
-- * `messages_trigrams` (the trigram tokenizer) answers terms of three or
--   more characters anywhere in the text: inside words, and in Chinese or
--   Japanese, which have no spaces between words.
-- * `messages_words` (unicode61) answers shorter terms as the start of a
--   word ("ok" finds "OK" and "okay"), which a trigram index cannot do.
--
-- Both are contentless (`content = ''`): the text lives once, in
-- `messages`, and the search reads it from there. `contentless_delete`
-- lets a message leave an index by its id alone.
--
-- Triggers keep them in step with `messages`, so every change to a message
-- updates the index in the same transaction, whichever code path (or the
-- `natter import` command) made it. A deleted message (`deleted = 1`, its
-- text emptied) leaves both indexes; an edit replaces its entry.
--
-- The trigram index gets the text followed by two spaces: then every
-- character, the last two included, starts some trigram, and a 1–2
-- character term of a script written without spaces (東京) is found through
-- the trigrams that start with it (`messages_trigram_terms` lists them).

CREATE VIRTUAL TABLE messages_words USING fts5(
    body,
    content = '',
    contentless_delete = 1,
    tokenize = 'unicode61 remove_diacritics 2'
);

CREATE VIRTUAL TABLE messages_trigrams USING fts5(
    body,
    content = '',
    contentless_delete = 1,
    tokenize = 'trigram remove_diacritics 1'
);

CREATE VIRTUAL TABLE messages_trigram_terms USING fts5vocab(messages_trigrams, 'row');

CREATE TRIGGER messages_search_insert AFTER INSERT ON messages
WHEN NOT new.deleted AND new.body != ''
BEGIN
    INSERT INTO messages_words (rowid, body) VALUES (new.id, new.body);
    INSERT INTO messages_trigrams (rowid, body) VALUES (new.id, new.body || '  ');
END;

-- Only a change of text or of `deleted` touches the index (a read mark, an
-- attachment or an edit to the same text does not).
CREATE TRIGGER messages_search_update AFTER UPDATE OF body, deleted ON messages
WHEN old.body IS NOT new.body OR old.deleted IS NOT new.deleted
BEGIN
    DELETE FROM messages_words WHERE rowid = old.id;
    DELETE FROM messages_trigrams WHERE rowid = old.id;
    INSERT INTO messages_words (rowid, body)
        SELECT new.id, new.body WHERE NOT new.deleted AND new.body != '';
    INSERT INTO messages_trigrams (rowid, body)
        SELECT new.id, new.body || '  ' WHERE NOT new.deleted AND new.body != '';
END;

-- Also when a room, or a user, is deleted and its messages go with it.
CREATE TRIGGER messages_search_delete AFTER DELETE ON messages
BEGIN
    DELETE FROM messages_words WHERE rowid = old.id;
    DELETE FROM messages_trigrams WHERE rowid = old.id;
END;

-- What was written before this version.
INSERT INTO messages_words (rowid, body)
    SELECT id, body FROM messages WHERE NOT deleted AND body != '';
INSERT INTO messages_trigrams (rowid, body)
    SELECT id, body || '  ' FROM messages WHERE NOT deleted AND body != '';
