-- natter schema, version 10: the change log read by conversation.
--
-- A resume (`?since=`) wants the changes after a cursor in the reader's
-- conversations. Read in id order with the membership as a filter, that
-- walked every change after the cursor, the other conversations' too: a
-- reader in 20 of 1,000 busy rooms read 500,000 rows to replay 10,000
-- (docs/PERFORMANCE.md). Now each of the reader's conversations is read
-- from this index, from the cursor on, and the rows are merged.
CREATE INDEX changes_by_conversation ON changes(conversation, id);

-- The few changes that reach people outside the conversation's members
-- (a public room made, renamed or deleted; someone leaving; one member's
-- own settings): read on their own, from the cursor on.
CREATE INDEX changes_beyond_members ON changes(id) WHERE audience != 0;
