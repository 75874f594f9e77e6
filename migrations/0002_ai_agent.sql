-- natter schema, version 2: the AI agent.
--
-- An agent is a user that cannot log in (`is_bot`); its conversations with
-- people are kind 'ai' pairs (a `direct_key` like direct ones). A reply the
-- agent could not finish (the backend failed, the server stopped) is stored
-- with what arrived and marked `incomplete`.

ALTER TABLE users ADD COLUMN is_bot INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN incomplete INTEGER NOT NULL DEFAULT 0;

-- The message a message answers: the agent's reply names the message it
-- replies to, so a message still waiting for an answer can be found (and
-- answered after a restart).
ALTER TABLE messages ADD COLUMN reply_to INTEGER REFERENCES messages(id) ON DELETE SET NULL;
CREATE INDEX messages_by_reply ON messages(reply_to) WHERE reply_to IS NOT NULL;
