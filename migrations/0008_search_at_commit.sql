-- natter schema: the search indexes are written once per commit, not once
-- per write.
--
-- FTS5 writes what it has gathered to disk at every savepoint, and the
-- writer runs each job in its own savepoint (so one failing job does not
-- undo the others): indexed by triggers, every message became a segment of
-- its own in both indexes, which cost each send ~250 µs (measured with
-- `natter-bench search`, docs/PERFORMANCE.md). Now a trigger only queues
-- the message's id; the writer indexes everything queued just before the
-- batch's COMMIT, outside any savepoint, in the same transaction: what is
-- committed is searchable, and a batch's messages share their segments.
--
-- Each message id is in the indexes or in the queue, never both: an edit
-- or deletion takes an indexed message out of the indexes (it is queued
-- again if it still has text); a queued one simply waits for the flush,
-- which indexes its text as it is then.
CREATE TABLE search_queue (
    id INTEGER PRIMARY KEY                  -- a message id whose text the indexes do not hold yet
);

DROP TRIGGER messages_search_insert;
DROP TRIGGER messages_search_update;
DROP TRIGGER messages_search_delete;

CREATE TRIGGER messages_search_insert AFTER INSERT ON messages
WHEN NOT new.deleted AND new.body != ''
BEGIN
    INSERT OR IGNORE INTO search_queue (id) VALUES (new.id);
END;

CREATE TRIGGER messages_search_update AFTER UPDATE OF body, deleted ON messages
WHEN old.body IS NOT new.body OR old.deleted IS NOT new.deleted
BEGIN
    DELETE FROM messages_words
     WHERE rowid = old.id AND NOT EXISTS (SELECT 1 FROM search_queue WHERE id = old.id);
    DELETE FROM messages_trigrams
     WHERE rowid = old.id AND NOT EXISTS (SELECT 1 FROM search_queue WHERE id = old.id);
    INSERT OR IGNORE INTO search_queue (id)
        SELECT new.id WHERE NOT new.deleted AND new.body != '';
END;

CREATE TRIGGER messages_search_delete AFTER DELETE ON messages
BEGIN
    DELETE FROM messages_words
     WHERE rowid = old.id AND NOT EXISTS (SELECT 1 FROM search_queue WHERE id = old.id);
    DELETE FROM messages_trigrams
     WHERE rowid = old.id AND NOT EXISTS (SELECT 1 FROM search_queue WHERE id = old.id);
    DELETE FROM search_queue WHERE id = old.id;
END;
