-- natter on PostgreSQL, version 3 (SQLite's 0010): the change log read by
-- conversation. A resume reads each of the reader's conversations from the
-- cursor on and merges them, instead of walking every change after the
-- cursor (see the SQLite migration for the figures).
CREATE INDEX changes_by_conversation ON changes(conversation, id);
CREATE INDEX changes_beyond_members ON changes(id) WHERE audience <> 0;
