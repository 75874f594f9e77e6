-- Several nodes on one database (`--bus postgres`).
--
-- Which node wrote a change: the writer's connection of each node sets
-- `natter.node` (a UUID made at start) in its startup options, and the
-- default reads it. A node following the log skips nothing by it: it
-- delivers its own changes from the events it published after its commit
-- (they carry what only the sender's node knows, such as the client's id
-- for its send), and every other node's from the row. Written elsewhere
-- (`natter admin`, an import): NULL, delivered from the row by every node.
ALTER TABLE changes ADD COLUMN node text DEFAULT current_setting('natter.node', true);

-- Every transaction that writes changes wakes the nodes that follow the
-- log. The payload is empty: PostgreSQL sends one notification per channel
-- and payload per transaction, at its commit, and a node reads what is new
-- from the log by id; so a notification that never arrives (a listener
-- that reconnects) loses nothing, it only waits for the next one or the
-- node's own poll.
CREATE FUNCTION natter_changes_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('natter_changes', '');
    RETURN NULL;
END
$$;
CREATE TRIGGER changes_notify AFTER INSERT ON changes
    FOR EACH STATEMENT EXECUTE FUNCTION natter_changes_notify();
