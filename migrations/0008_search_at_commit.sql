-- natter schema: the search indexes are written beside the writer, not by
-- every write.
--
-- FTS5 writes what it has gathered at every savepoint, and the writer runs
-- each job in its own savepoint (so one failing job does not undo the
-- others): indexed by triggers, every message was a segment of its own in
-- both indexes, and indexing cost each send ~65-250 µs of the writer's
-- time, 5-10 times the rest of it (docs/PERFORMANCE.md). Now a trigger only
-- queues the message's id, and `db::indexer` (a thread of its own, at a
-- lower CPU priority) indexes the queue in small transactions right after
-- the writer's commits; a search waits for what was queued before it.
--
-- Each message id is in the indexes or in the queue, never both: an edit
-- or deletion takes an indexed message out of the indexes (it is queued
-- again if it still has text); a queued one simply waits for the indexer,
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
