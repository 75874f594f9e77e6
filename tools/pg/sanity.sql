-- Sanity statements against a fresh database that has
-- migrations/postgres/0001_initial.sql applied; run by check-schema.sh
-- (psql -a prints each statement above its result). Expected failures are
-- caught in DO blocks and reported as NOTICEs, so the script runs with
-- ON_ERROR_STOP and any unexpected error stops it.
\pset footer off

-- The schema's version, and the extensions it asked for.
SELECT version FROM natter_schema;
SELECT extname FROM pg_extension WHERE extname IN ('pg_trgm', 'unaccent', 'citext') ORDER BY extname;

-- Two users: ids from the identity, UUIDs stored as the text Uuid::to_string()
-- writes, times in µs.
INSERT INTO users (id, username, username_key, email, email_key, password_hash, created_at)
VALUES ('0b5c4b1e-6f0e-4a55-9c0e-2a7f3c1d9e01', 'Ann', 'ann', 'Ann@Example.com', 'ann@example.com', '$argon2id$x', 1718623701902531),
       ('7d1f0a9c-3b2e-4c8d-8e5f-6a4b3c2d1e02', 'bob', 'bob', NULL, NULL, '$argon2id$y', 1718623701902532)
RETURNING number, id, username, created_at;

-- COLLATE NOCASE as citext: the username and the email match ignoring case.
SELECT number FROM users WHERE username = 'ANN';
SELECT number FROM users WHERE email = 'ann@EXAMPLE.com';
-- username_key is UNIQUE.
DO $$ BEGIN
    INSERT INTO users (id, username, username_key, password_hash, created_at)
    VALUES (gen_random_uuid()::text, 'ANN', 'ann', 'x', 1);
    RAISE EXCEPTION 'a second ann was stored';
EXCEPTION WHEN unique_violation THEN RAISE NOTICE 'refused as expected: %', SQLERRM;
END $$;

-- A UUID column holds only the lowercase hyphenated form Uuid::to_string()
-- writes (a CHECK): uppercase, braces, no hyphens or other text are refused.
SELECT id, id ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' AS canonical FROM users ORDER BY number;
DO $$
DECLARE
    bad text;
BEGIN
    FOREACH bad IN ARRAY ARRAY['0B5C4B1E-6F0E-4A55-9C0E-2A7F3C1D9E0A', '{0b5c4b1e-6f0e-4a55-9c0e-2a7f3c1d9e0a}',
                               '0b5c4b1e6f0e4a559c0e2a7f3c1d9e0a', 'not a uuid', ''] LOOP
        BEGIN
            INSERT INTO users (id, username, username_key, password_hash, created_at)
            VALUES (bad, 'carol', 'carol', 'x', 1);
            RAISE EXCEPTION 'stored % as a user id', quote_literal(bad);
        EXCEPTION WHEN check_violation THEN
            RAISE NOTICE 'refused as expected: % (%)', quote_literal(bad), SQLERRM;
        END;
    END LOOP;
END $$;
-- A session id too; the columns that reference one (refresh_tokens.session,
-- push_subscriptions.session) can only hold a session's id.
DO $$ BEGIN
    INSERT INTO sessions (id, "user", created_at, expires_at) VALUES ('C0FFEE00-0000-4000-8000-000000000009', 1, 1, 2);
    RAISE EXCEPTION 'an uppercase session id was stored';
EXCEPTION WHEN check_violation THEN RAISE NOTICE 'refused as expected: %', SQLERRM;
END $$;

-- A room; its name is unique ignoring case (rooms_by_name on citext).
INSERT INTO conversations (id, kind, name, created_by, created_at)
VALUES ('5e0c8a1b-2d3f-4e5a-8b6c-7d8e9f0a1b03', 'room', 'General', 1, 1718623701902600)
RETURNING number, id, kind, name;
DO $$ BEGIN
    INSERT INTO conversations (id, kind, name, created_at) VALUES (gen_random_uuid()::text, 'room', 'GENERAL', 1);
    RAISE EXCEPTION 'a second room named general was stored';
EXCEPTION WHEN unique_violation THEN RAISE NOTICE 'refused as expected: %', SQLERRM;
END $$;
SELECT number, name FROM conversations WHERE kind = 'room' AND name = 'general';
-- citext folds all of Unicode (SQLite's NOCASE only ASCII): CAFÉ is Café.
INSERT INTO conversations (id, kind, name, created_at) VALUES (gen_random_uuid()::text, 'room', 'Café', 1) RETURNING number, name;
-- (number 3: the refused GENERAL took 2; identities, like sequences, leave gaps.)
SELECT number AS cafe_room FROM conversations WHERE name = 'café' \gset
DO $$ BEGIN
    INSERT INTO conversations (id, kind, name, created_at) VALUES (gen_random_uuid()::text, 'room', 'CAFÉ', 1);
    RAISE EXCEPTION 'a second room named café was stored';
EXCEPTION WHEN unique_violation THEN RAISE NOTICE 'refused as expected: %', SQLERRM;
END $$;

-- Members; INSERT OR IGNORE is ON CONFLICT DO NOTHING (the second adds nothing).
INSERT INTO members (conversation, "user", last_read, joined_at)
VALUES (1, 1, COALESCE((SELECT MAX(id) FROM messages WHERE conversation = 1), 0), 1718623701902700),
       (1, 2, 0, 1718623701902700)
ON CONFLICT DO NOTHING;
INSERT INTO members (conversation, "user", last_read, joined_at) VALUES (1, 1, 0, 1)
ON CONFLICT DO NOTHING;
SELECT conversation, "user", last_read, notify FROM members ORDER BY "user";
-- Beware: unquoted, `user` is CURRENT_USER, not the column.
SELECT DISTINCT user FROM members;

-- A change and a message sharing one id, in one statement; the
-- `changes_in_order` trigger takes the advisory lock first.
WITH c AS (
    INSERT INTO changes (conversation, kind, "user", at)
    VALUES (1, 'message', 1, 1718623701903000) RETURNING id
)
INSERT INTO messages (id, conversation, sender, body, created_at, updated_at)
SELECT c.id, 1, 1, 'Café crème at noon?', 1718623701903000, 1718623701903000 FROM c
RETURNING id, body;
-- The same in two statements: the change's id is the message's.
INSERT INTO changes (conversation, kind, "user", at)
VALUES (1, 'message', 2, 1718623701904000) RETURNING id AS message_id \gset
INSERT INTO messages (id, conversation, sender, body, created_at, updated_at)
VALUES (:message_id, 1, 2, '今日は東京へ行きます', 1718623701904000, 1718623701904000)
RETURNING id, body;
-- A change that is not a message takes the next id.
INSERT INTO changes (conversation, kind, "user", audience, data, at)
VALUES (1, 'read', 2, 1, '{"upto":2}', 1718623701905000) RETURNING id, kind;
-- Three more messages, each through its change.
WITH c AS (
    INSERT INTO changes (conversation, kind, "user", at)
    SELECT 1, 'message', 1, 1718623701906000 FROM generate_series(1, 3) RETURNING id
)
INSERT INTO messages (id, conversation, sender, body, created_at, updated_at)
SELECT c.id, 1, 1,
       (ARRAY['OK, see you at the book club', 'okay', 'mail me: foo@bar.com'])[(row_number() OVER (ORDER BY c.id))::int],
       1718623701906000, 1718623701906000
FROM c RETURNING id, body;
-- Every message id is a `message` change's id; the log's newest id.
SELECT m.id, c.kind, c."user" = m.sender AS same_sender
FROM messages m JOIN changes c ON c.id = m.id ORDER BY m.id;
SELECT COALESCE(MAX(id), 0) AS latest FROM changes;
SELECT last_value, is_called FROM changes_id_seq;
-- `since=`: the changes after id 2, in order.
SELECT id, kind, message, "user", audience, data FROM changes WHERE id > 2 ORDER BY id;
-- A message must be given its change's id: it has no default of its own.
DO $$ BEGIN
    INSERT INTO messages (conversation, sender, body, created_at, updated_at) VALUES (1, 1, 'x', 1, 1);
    RAISE EXCEPTION 'a message was stored without an id';
EXCEPTION WHEN not_null_violation THEN RAISE NOTICE 'refused as expected: %', SQLERRM;
END $$;

-- What the search indexes read.
SELECT id, body, body_folded, natter_words(body_folded) AS words FROM messages ORDER BY id;

-- Search, a 3+ character term, anywhere: 'Café' found by `cafe` (and by CAFÉ).
SELECT natter_like_anywhere('cafe') AS pattern, natter_like_anywhere('CAFÉ') AS pattern2;
SELECT id, body FROM messages m
 WHERE m.body_folded LIKE natter_like_anywhere('cafe') AND NOT m.deleted ORDER BY id DESC;
SELECT id, body FROM messages m
 WHERE m.body_folded LIKE natter_like_anywhere('CAFÉ') AND NOT m.deleted ORDER BY id DESC;
-- A 1–2 character term: the start of a word, through the tsvector.
-- `ca` finds Café (a word starting with ca)...
SELECT natter_word_starts(ARRAY['ca']) AS query;
SELECT id, body FROM messages m
 WHERE natter_words(m.body_folded) @@ natter_word_starts(ARRAY['ca']) AND NOT m.deleted ORDER BY id DESC;
-- ... `ok` finds "OK" and "okay" but not "book"; `ba` finds bar in foo@bar.com.
SELECT id, body FROM messages m
 WHERE natter_words(m.body_folded) @@ natter_word_starts(ARRAY['ok']) AND NOT m.deleted ORDER BY id DESC;
SELECT id, body FROM messages m
 WHERE natter_words(m.body_folded) @@ natter_word_starts(ARRAY['ba']) AND NOT m.deleted ORDER BY id DESC;
-- 'Café' found by the word `cafe` through the tsvector too.
SELECT id, body FROM messages m
 WHERE natter_words(m.body_folded) @@ to_tsquery('simple', 'cafe') AND NOT m.deleted ORDER BY id DESC;
-- Japanese, no spaces: a substring of 今日は東京へ行きます. 東京へ (3
-- characters) goes through the trigrams; 東京 (2) is the same LIKE.
SELECT id, body FROM messages m
 WHERE m.body_folded LIKE natter_like_anywhere('東京へ') AND NOT m.deleted ORDER BY id DESC;
SELECT id, body FROM messages m
 WHERE m.body_folded LIKE natter_like_anywhere('東京') AND NOT m.deleted ORDER BY id DESC;
-- Not found: a substring that is not there, a word start that is not there.
SELECT count(*) FROM messages m WHERE m.body_folded LIKE natter_like_anywhere('大阪') AND NOT m.deleted;
SELECT count(*) FROM messages m
 WHERE natter_words(m.body_folded) @@ natter_word_starts(ARRAY['zz']) AND NOT m.deleted;
-- LIKE's wildcards in a term are text: `50%` does not match "500".
SELECT natter_like_anywhere('50%_x') AS pattern,
       '500 x' LIKE natter_like_anywhere('50%') AS matches_500, 'up 50% now' LIKE natter_like_anywhere('50%') AS matches_50pct;
-- The whole search as one statement (db::search::find): the first
-- anywhere-term drives the trigram index, the others are checked on its
-- rows, the word starts through the tsvector; member and filters as in
-- SQLite. Here: `café` and `crème` anywhere and a word starting with `no`,
-- for user 1, newest first.
PREPARE find(text, text[], text[], bigint, bigint, bigint, bigint, bigint, bigint, bigint) AS
SELECT m.id FROM messages m
 WHERE m.id < $4
   AND ($1 IS NULL OR m.body_folded LIKE natter_like_anywhere($1))
   AND m.body_folded LIKE ALL (ARRAY(SELECT natter_like_anywhere(t) FROM unnest($2) AS t))
   AND ($3 IS NULL OR natter_words(m.body_folded) @@ natter_word_starts($3))
   AND m.conversation IN (SELECT conversation FROM members WHERE "user" = $5)
   AND ($6::bigint IS NULL OR m.conversation = $6)
   AND ($7::bigint IS NULL OR m.sender = $7)
   AND ($8::bigint IS NULL OR m.created_at >= $8)
   AND ($9::bigint IS NULL OR m.created_at < $9)
   AND NOT m.deleted
 ORDER BY m.id DESC LIMIT $10;
EXECUTE find('café', ARRAY['crème'], ARRAY['no'], 9223372036854775807, 1, NULL, NULL, NULL, NULL, 21);
EXECUTE find(NULL, '{}', ARRAY['ok'], 9223372036854775807, 1, NULL, NULL, NULL, NULL, 21);
EXECUTE find('東京', '{}', NULL, 9223372036854775807, 2, 1, 2, 1718623701904000, NULL, 21);

-- An untyped `$N IS NULL` cannot be prepared: cast it (as `find` does).
DO $$ BEGIN
    EXECUTE 'PREPARE untyped AS SELECT count(*) FROM messages m WHERE $1 IS NULL OR m.conversation = $1';
    RAISE EXCEPTION 'an untyped $1 IS NULL was prepared';
EXCEPTION WHEN ambiguous_parameter THEN RAISE NOTICE 'refused as expected: %', SQLERRM;
END $$;

-- The indexes can answer these (seq scans off: the table is tiny).
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM messages m
 WHERE m.body_folded LIKE natter_like_anywhere('東京へ') AND NOT m.deleted ORDER BY id DESC LIMIT 21;
EXPLAIN (COSTS OFF) SELECT id FROM messages m
 WHERE natter_words(m.body_folded) @@ natter_word_starts(ARRAY['ok']) AND NOT m.deleted
 ORDER BY m.id + 0 DESC LIMIT 21;
RESET enable_seqscan;

-- An edit is searchable at once (no queue); the old text is gone.
UPDATE messages SET body = 'Tea at the café instead', updated_at = 1718623701907000 WHERE id = 1;
SELECT id, body FROM messages m WHERE m.body_folded LIKE natter_like_anywhere('crème') AND NOT m.deleted;
SELECT id, body FROM messages m WHERE m.body_folded LIKE natter_like_anywhere('instead') AND NOT m.deleted;
-- A soft delete leaves the search.
UPDATE messages SET body = '', file = NULL, deleted = true, updated_at = 1718623701908000
 WHERE id = 1 AND NOT deleted;
SELECT count(*) AS cafe_hits_after_delete FROM messages m WHERE m.body_folded LIKE natter_like_anywhere('cafe') AND NOT m.deleted;

-- Reactions and mentions; INSERT OR IGNORE again.
INSERT INTO reactions (message, emoji, "user", created_at) VALUES (2, '👍', 1, 1718623701909000)
ON CONFLICT DO NOTHING;
INSERT INTO reactions (message, emoji, "user", created_at) VALUES (2, '👍', 1, 1718623701909001)
ON CONFLICT DO NOTHING;
INSERT INTO mentions ("user", message) VALUES (2, 4) ON CONFLICT DO NOTHING;
SELECT r.emoji, MIN(r.created_at) OVER (PARTITION BY r.emoji) AS first, u.username
  FROM reactions r JOIN users u ON u.number = r."user" WHERE r.message = 2;

-- Settings: secrets as bytes in meta, integers in meta_integers (see their
-- comments). The floor only ever rises: the second write (3) leaves 5.
INSERT INTO meta (key, value) VALUES ('jwt_secret', decode(repeat('ab', 32), 'hex'));
PREPARE raise_floor(text, bigint) AS
INSERT INTO meta_integers (key, value) VALUES ($1, $2)
ON CONFLICT (key) DO UPDATE
SET value = CASE WHEN excluded.value > meta_integers.value THEN excluded.value ELSE meta_integers.value END;
EXECUTE raise_floor('changes_floor', 5);
EXECUTE raise_floor('changes_floor', 3);
SELECT key, length(value) AS bytes FROM meta ORDER BY key;
SELECT key, value FROM meta_integers ORDER BY key;
-- bytea takes no integer: an i64 bound for meta.value is refused.
DO $$ BEGIN
    EXECUTE 'INSERT INTO meta (key, value) VALUES ($1, $2)' USING 'changes_floor', 5::bigint;
    RAISE EXCEPTION 'an integer was stored in meta.value';
EXCEPTION WHEN datatype_mismatch THEN RAISE NOTICE 'refused as expected: %', SQLERRM;
END $$;

-- A file as a profile picture: '/api/files/' || the uuid is the text Rust writes.
INSERT INTO files (id, owner, name, content_type, size, data, created_at)
VALUES ('9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c04', 1, 'me.png', 'image/png', 3, '\x010203', 1718623701910000)
RETURNING number, id;
UPDATE users SET profile_picture = '/api/files/9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c04' WHERE number = 1;
SELECT f.number FROM files f JOIN users u ON u.number = f.owner
 WHERE u.profile_picture = '/api/files/' || f.id;
-- SUM over bigint is numeric in PostgreSQL: cast it back for an i64.
SELECT pg_typeof(COALESCE(SUM(size), 0)) AS sum_type, COALESCE(SUM(size), 0)::bigint AS stored_bytes
  FROM files WHERE owner = 1;

-- Sessions, refresh tokens, push (bob's): revoking a session ends its
-- pushes (trigger); a subscription without a session stays.
INSERT INTO sessions (id, "user", created_at, expires_at, current_room)
VALUES ('c0ffee00-0000-4000-8000-000000000005', 2, 1718623701911000, 1719833301911000, :cafe_room),
       ('c0ffee00-0000-4000-8000-000000000006', 2, 1718623701911001, 1719833301911001, NULL);
INSERT INTO refresh_tokens (hash, session) VALUES (sha256('token'), 'c0ffee00-0000-4000-8000-000000000005');
INSERT INTO push_subscriptions ("user", session, endpoint, p256dh, auth, created_at)
VALUES (2, 'c0ffee00-0000-4000-8000-000000000005', 'https://push.example/1', 'BPk', 'au', 1718623701912000),
       (2, 'c0ffee00-0000-4000-8000-000000000006', 'https://push.example/2', 'BPk', 'au', 1718623701912001),
       (2, NULL, 'https://push.example/3', 'BPk', 'au', 1718623701912002)
ON CONFLICT (endpoint) DO UPDATE SET "user" = excluded."user", session = excluded.session,
    p256dh = excluded.p256dh, auth = excluded.auth, created_at = excluded.created_at
RETURNING id, endpoint;
UPDATE sessions SET revoked_at = 1718623701913000 WHERE id = 'c0ffee00-0000-4000-8000-000000000005' AND revoked_at IS NULL;
SELECT id, endpoint, session FROM push_subscriptions ORDER BY id;

-- Admin (bob makes them): an invite, a reset link for ann, the audit log.
INSERT INTO invites (id, code_hash, created_by, created_at, expires_at, max_uses)
VALUES ('1d2e3f40-5a6b-4c7d-8e9f-a0b1c2d3e406', sha256('code'), 2, 1718623701914000, NULL, 2);
UPDATE invites SET uses = uses + 1 WHERE id = '1d2e3f40-5a6b-4c7d-8e9f-a0b1c2d3e406' RETURNING id, uses, max_uses;
INSERT INTO password_resets (token_hash, "user", created_by, created_at, expires_at)
VALUES (sha256('reset'), 1, 2, 1718623701915000, 1718627301915000);
INSERT INTO audit (at, actor, action, target) VALUES (1718623701916000, 2, 'reset', 'ann') RETURNING id;
DO $$ BEGIN
    UPDATE users SET role = 'owner' WHERE number = 1;
    RAISE EXCEPTION 'a role outside admin/member was stored';
EXCEPTION WHEN check_violation THEN RAISE NOTICE 'refused as expected: %', SQLERRM;
END $$;

-- A message in the room Café, with a reaction, a mention and a reply
-- to it from room 1's message 4.
INSERT INTO members (conversation, "user", joined_at) VALUES (:cafe_room, 1, 1), (:cafe_room, 2, 1);
WITH c AS (INSERT INTO changes (conversation, kind, "user", at)
           VALUES (:cafe_room, 'message', 1, 1718623701917000) RETURNING id)
INSERT INTO messages (id, conversation, sender, body, created_at, updated_at)
SELECT c.id, :cafe_room, 1, 'hi @bob', 1718623701917000, 1718623701917000 FROM c RETURNING id AS cafe_message \gset
INSERT INTO reactions (message, emoji, "user", created_at) VALUES (:cafe_message, '🎉', 2, 1718623701918000);
INSERT INTO mentions ("user", message) VALUES (2, :cafe_message);
UPDATE messages SET reply_to = :cafe_message WHERE id = 4;
-- Deleting that room: its members, messages, reactions and mentions go, the
-- reply keeps its text and loses its link, the session's current room is
-- emptied, the change log stays.
DELETE FROM conversations WHERE number = :cafe_room;
SELECT (SELECT count(*) FROM members WHERE conversation = :cafe_room) AS members,
       (SELECT count(*) FROM messages WHERE conversation = :cafe_room) AS messages,
       (SELECT count(*) FROM reactions WHERE message = :cafe_message) AS reactions,
       (SELECT count(*) FROM mentions WHERE message = :cafe_message) AS mentions,
       (SELECT reply_to FROM messages WHERE id = 4) AS reply_to_of_4,
       (SELECT count(*) FROM changes WHERE conversation = :cafe_room) AS changes,
       (SELECT current_room FROM sessions WHERE id = 'c0ffee00-0000-4000-8000-000000000005') AS current_room;
-- Deleting bob: his memberships, messages (with their reactions and
-- mentions), sessions, tokens and subscriptions go; what he made for others
-- stays with its author emptied.
DELETE FROM users WHERE number = 2;
SELECT (SELECT count(*) FROM members WHERE "user" = 2) AS members, (SELECT count(*) FROM messages WHERE sender = 2) AS messages,
       (SELECT count(*) FROM sessions) AS sessions, (SELECT count(*) FROM refresh_tokens) AS refresh_tokens,
       (SELECT count(*) FROM push_subscriptions) AS push_subscriptions,
       (SELECT created_by FROM invites) AS invite_by, (SELECT created_by FROM password_resets) AS reset_by,
       (SELECT actor FROM audit) AS audit_actor;
-- What is left: ann's messages in General.
SELECT m.id, m.sender, m.body, m.deleted FROM messages m ORDER BY m.id;
