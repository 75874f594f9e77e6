#!/usr/bin/env python3
"""Runs every statement of natter's src/db/*.rs that tools/pg/portable.md
classifies, with the values Rust binds, on SQLite and on PostgreSQL, and
prints a transcript:

    tools/pg/check-portable.py [NATTER_CHECKOUT] | tee tools/pg/portable-check.txt

NATTER_CHECKOUT (default: this worktree's root) gives migrations/*.sql, the
SQLite schema. PostgreSQL's is migrations/postgres/0001_initial.sql of this
worktree.

SQLite: a fresh file with natter's SQLite migrations applied in order, run
through the sqlite3 CLI (tools/pg/sqlite-cli.sh: the CLI over the SQLite
natter bundles); each statement's `?N` bound with `.parameter set ?N VALUE`
to the value Rust binds (a `bool` as 0/1, as rusqlite binds it).
PostgreSQL: a fresh database made by migrations/postgres/0001_initial.sql on
the cluster of tools/pg/up.sh, through psql; each statement PREPAREd with
`?N` rewritten to `$N` (as the backend will, once, when it prepares it),
then EXECUTEd.

What each case shows:
  (a) the statement as in natter runs on both, and both give the same rows
      (or the same count of changed rows);
  (b) the original fails or misbehaves on PostgreSQL (PREPARE only, never
      executed there); the portable rewrite, run on SQLite inside a
      transaction right after the original (rolled back), gives what the
      original gave; then the rewrite runs on both and both agree;
  (c) the original on SQLite, its failure on PostgreSQL, and the
      PostgreSQL-only body; both give the same rows where they can.
On PostgreSQL every statement's parameter types (pg_prepared_statements)
and result types (\\gdesc) are checked against the Rust types bound and read:
postgres-types binds an i64 only to bigint, a bool only to boolean, bytes
only to bytea, a String to text/citext/varchar (and name), and reads the
same way; rusqlite converts freely, PostgreSQL's driver refuses.

Exit status: 0 when every case behaved as its class says, 1 otherwise.
The cases run in order on one database each: earlier ones make the rows
later ones read.
"""

import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
ARGS = [a for a in sys.argv[1:] if not a.startswith("--")]
CHECKOUT = os.path.abspath(ARGS[0]) if ARGS else ROOT
PG_MIGRATION = os.path.join(ROOT, "migrations/postgres/0001_initial.sql")
SQLITE_CLI = os.path.join(HERE, "sqlite-cli.sh")
PG_DB = "natter_portable_check"

# ---------------------------------------------------------------- values


class V:
    """A value Rust binds: its kind and the value (None: NULL)."""

    def __init__(self, kind, value):
        self.kind, self.value = kind, value

    def sqlite(self):
        v = self.value
        if v is None:
            return "NULL"
        if self.kind == "i":
            return str(v)
        if self.kind == "B":
            return "1" if v else "0"  # rusqlite binds a bool as an integer
        if self.kind == "b":
            return "X'" + v.hex() + "'"
        return "'" + v.replace("'", "''") + "'"

    def pg(self):
        v = self.value
        if v is None:
            return "NULL"
        if self.kind == "i":
            return str(v)
        if self.kind == "B":
            return "true" if v else "false"
        if self.kind == "b":
            return "'\\x" + v.hex() + "'"
        return "'" + v.replace("'", "''") + "'"

    def show(self):
        rust = {"i": "i64", "t": "String", "b": "&[u8]", "B": "bool"}[self.kind]
        return f"{self.sqlite()} ({rust})"


def I(v):  # noqa: E743 - i64 and the id newtypes, Timestamp
    return V("i", v)


def T(v):
    return V("t", v)


def Bl(v):
    return V("b", v)


def Bo(v):
    return V("B", v)


# PostgreSQL types each Rust type is accepted for by postgres-types.
BIND_OK = {
    "i": {"bigint"},
    "t": {"text", "citext", "character varying"},
    "b": {"bytea"},
    "B": {"boolean"},
}
READ_OK = BIND_OK
RUST = {"i": "i64", "t": "String", "b": "Vec<u8>", "B": "bool"}

# ---------------------------------------------------------------- the SQL

USER_COLUMNS = ("u.number, u.id, u.username, u.email, u.name, u.first_name, u.last_name, u.bio, u.profile_picture, "
                "u.public_key, u.ready_to_chat, u.created_at, u.last_seen_at, u.is_bot, u.role, u.deactivated_at")
USER_READ = "itttttttttBiiBti"
BRIEF_COLUMNS = "u.number, u.id, u.username, u.email, u.name, u.first_name, u.last_name, u.profile_picture, u.is_bot"
BRIEF_READ = "itttttttB"
CONVERSATION_COLUMNS = "c.number, c.id, c.kind, c.name, c.created_by, c.created_at"
CONVERSATION_READ = "itttii"
MESSAGE_SELECT = ("SELECT m.id, m.conversation, m.sender, m.body, m.file, m.created_at, m.updated_at, m.deleted,\n"
                  "                    m.incomplete, m.reply_to\n             FROM messages m ")
MESSAGE_READ = "iiitiiiBBi"
INVITE_COLUMNS = "i.id, i.created_by, u.username, i.created_at, i.expires_at, i.max_uses, i.uses, i.revoked_at"
INVITE_READ = "titiiiii"


def select_one(clause):
    return "SELECT " + CONVERSATION_COLUMNS + " FROM conversations c WHERE " + clause


def msel(rest):
    return MESSAGE_SELECT + rest


# UUIDs, as Uuid::to_string() writes them.
U_ANN = "0b5c4b1e-6f0e-4a55-9c0e-2a7f3c1d9e01"
U_BOB = "7d1f0a9c-3b2e-4c8d-8e5f-6a4b3c2d1e02"
U_BOT = "3e2d1c0b-9a8f-4e7d-8c6b-5a4f3e2d1c03"
C_GENERAL = "5e0c8a1b-2d3f-4e5a-8b6c-7d8e9f0a1b04"
C_DIRECT = "6f1d9b2c-3e4a-4f6b-9c7d-8e9f0a1b2c05"
C_AI = "7a2e0c3d-4f5b-4a7c-8d8e-9f0a1b2c3d06"
C_CAFE = "8b3f1d4e-5a6c-4b8d-9e9f-0a1b2c3d4e07"
S_ANN = "c0ffee00-0000-4000-8000-000000000011"
S_BOB1 = "c0ffee00-0000-4000-8000-000000000012"
S_BOB2 = "c0ffee00-0000-4000-8000-000000000013"
F_ATTACHED = "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c21"
F_PICTURE = "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c22"
F_STRAY = "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c23"
INV = "1d2e3f40-5a6b-4c7d-8e9f-a0b1c2d3e431"
T0 = 1718600000000000  # µs
JWT = b"jwt-secret-32-bytes-of-ascii-ok!"
VAPID = b"vapid-key-32-bytes-of-ascii-ok!!"
TOKEN = b"refresh-token-sha256-ascii-32by!"
CODE = b"invite-code-sha256-ascii-32byte!"
RESET = b"reset-token-sha256-ascii-32byte!"
RESET2 = b"reset-token-2-sha256-ascii-32by!"


class Case:
    def __init__(self, name, cls, src, binds=(), read="", sql=None, pg=None, why="",
                 sqlite_after=None, unordered=False, again=False, pg_only=False):
        self.name, self.cls, self.src = name, cls, src
        self.binds = list(binds)
        self.read = read  # result columns as kinds (Rust types read)
        self.sql = sql if sql is not None else src  # (b): the portable rewrite
        self.pg = pg  # (c): the PostgreSQL body
        self.why = why
        # (b) an INSERT whose id Rust takes with last_insert_rowid(): what
        # the original's run on SQLite reads after it.
        self.sqlite_after = sqlite_after
        self.unordered = unordered
        self.again = again  # the same statement once more (other values); not counted again
        self.pg_only = pg_only


C = []


def case(*a, **k):
    C.append(Case(*a, **k))


Q_USER = 'the column `user` quoted as "user"'
Q_NULL = "`?N IS NULL` typed: `CAST(?N AS bigint) IS NULL`"
Q_QUAL = ("`user` only qualified (`x.user`): PostgreSQL reads any keyword after a dot as a column name, so "
          "it is the column there too; only a bare `user` is CURRENT_USER")

# ------------------------------------------------ mod.rs: init's secret
case("mod::init (has a secret)", "b", "SELECT 1 FROM meta WHERE key = ?1", [T("jwt_secret")], "i",
     sql="SELECT CAST(1 AS bigint) FROM meta WHERE key = ?1",
     why="the literal 1 is `integer` (int4) in PostgreSQL and Rust reads an i64 (postgres-types reads an i64 from bigint only)")
case("mod::init (insert the secret)", "a", "INSERT INTO meta (key, value) VALUES (?1, ?2)", [T("jwt_secret"), Bl(JWT)])
case("mod::init (has a secret)", "b", "SELECT 1 FROM meta WHERE key = ?1", [T("jwt_secret")], "i",
     sql="SELECT CAST(1 AS bigint) FROM meta WHERE key = ?1", again=True)
case("mod::Db::jwt_secret", "a", "SELECT value FROM meta WHERE key = ?1", [T("jwt_secret")], "b")
# push.rs: the VAPID key
case("push::ensure_vapid_key (has a key)", "b", "SELECT 1 FROM meta WHERE key = ?1", [T("vapid_private_key")], "i",
     sql="SELECT CAST(1 AS bigint) FROM meta WHERE key = ?1", why="as mod::init's: `SELECT 1` is int4")
case("push::ensure_vapid_key (insert)", "a", "INSERT INTO meta (key, value) VALUES (?1, ?2)",
     [T("vapid_private_key"), Bl(VAPID)])
case("push::vapid_key", "a", "SELECT value FROM meta WHERE key = ?1", [T("vapid_private_key")], "b")

# ------------------------------------------------ users.rs
H = "SELECT number FROM users WHERE username_key = ?1 OR email_key = ?1"
case("users::holder", "a", H, [T("ann")], "i")
USERS_INSERT = ("INSERT INTO users (id, username, email, password_hash, name, first_name, last_name, public_key, created_at,\n"
                "                            username_key, email_key)\n         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)")


def user_binds(uuid, username, email, hash_, name, first, last, key, at):
    return [T(uuid), T(username), T(email), T(hash_), T(name), T(first), T(last), T(key), I(at),
            T(username.strip().lower()), T(email.strip().lower() if email else None)]


case("users::insert", "b", USERS_INSERT,
     user_binds(U_ANN, "Ann", "Ann@Example.com", "$argon2id$ann", "Ann Smith", "Ann", "Smith", "pk-ann", T0 + 1), "i",
     sql=USERS_INSERT + " RETURNING number", sqlite_after="SELECT last_insert_rowid()",
     why="`last_insert_rowid()` (rusqlite's, after the INSERT) becomes `RETURNING number` (SQLite 3.35+)")
case("users::insert", "b", USERS_INSERT,
     user_binds(U_BOB, "bob", None, "$argon2id$bob", "Bob Jones", "Bob", "JONES", None, T0 + 2), "i",
     sql=USERS_INSERT + " RETURNING number", sqlite_after="SELECT last_insert_rowid()", again=True)
case("users::holder", "a", H, [T("ann@example.com")], "i", again=True)
# ensure_bot: holder finds nobody, insert, then mark it a bot.
case("users::insert", "b", USERS_INSERT,
     user_binds(U_BOT, "natter-ai", None, "!", "Natter AI", "", "", None, T0 + 3), "i",
     sql=USERS_INSERT + " RETURNING number", sqlite_after="SELECT last_insert_rowid()", again=True)
case("users::ensure_bot (mark a bot)", "b", "UPDATE users SET is_bot = 1 WHERE number = ?1", [I(3)],
     sql="UPDATE users SET is_bot = TRUE WHERE number = ?1",
     why="a flag written as 1: PostgreSQL assigns no integer to a boolean; TRUE is 1 in SQLite (3.23+)")
case("users::ensure_bot (is it a bot)", "a", "SELECT is_bot FROM users WHERE number = ?1", [I(3)], "B")
case("users::ensure_bot (rename)", "a", "UPDATE users SET name = ?2 WHERE number = ?1 AND name != ?2",
     [I(3), T("Natter Assistant")])
case("users::number_by_username_key", "a", "SELECT number FROM users WHERE username_key = ?1", [T("bob")], "i")
case("users::by_id", "a", "SELECT " + USER_COLUMNS + " FROM users u WHERE u.number = ?1", [I(1)], USER_READ)
case("users::by_uuid", "a", "SELECT " + USER_COLUMNS + " FROM users u WHERE u.id = ?1", [T(U_BOB)], USER_READ)
case("users::by_username", "a", "SELECT " + USER_COLUMNS + " FROM users u WHERE u.username = ?1", [T("ANN")], USER_READ,
     why="NOCASE in SQLite, citext in PostgreSQL: ANN finds Ann in both")
case("users::credentials", "a",
     "SELECT " + USER_COLUMNS + ", u.password_hash FROM users u WHERE u.username_key = ?1 OR u.email_key = ?1",
     [T("ann@example.com")], USER_READ + "t")
case("users::password_hash", "a", "SELECT password_hash FROM users WHERE number = ?1", [I(2)], "t")
SEARCH = ("SELECT " + USER_COLUMNS + " FROM users u\n"
          "         WHERE ?1 IS NULL OR u.username LIKE ?1 ESCAPE '\\' OR u.name LIKE ?1 ESCAPE '\\'\n"
          "            OR (u.first_name || ' ' || u.last_name) LIKE ?1 ESCAPE '\\'\n"
          "         ORDER BY u.username LIMIT ?2")
SEARCH_PORTABLE = ("SELECT " + USER_COLUMNS + " FROM users u\n"
                   "         WHERE CAST(?1 AS text) IS NULL OR u.username LIKE ?1 ESCAPE '\\'\n"
                   "            OR lower(u.name) LIKE lower(?1) ESCAPE '\\'\n"
                   "            OR lower(u.first_name || ' ' || u.last_name) LIKE lower(?1) ESCAPE '\\'\n"
                   "         ORDER BY u.username LIMIT ?2")
case("users::search", "b", SEARCH, [T(None), I(20)], USER_READ, sql=SEARCH_PORTABLE,
     why="`?1 IS NULL` typed; and LIKE ignores case in SQLite on every column but in PostgreSQL only on citext "
         "(username): name and first/last name compare lower() to lower() (ASCII-only lower() in SQLite, so "
         "the same as its LIKE)")
case("users::search", "b", SEARCH, [T("%jones%"), I(20)], USER_READ, sql=SEARCH_PORTABLE, again=True,
     why="`jones` finds Bob JONES (last name) in SQLite; the rewrite keeps that in PostgreSQL")
case("users::search", "b", SEARCH, [T("%ANN%"), I(20)], USER_READ, sql=SEARCH_PORTABLE, again=True)
case("users::search (typed only, for comparison)", "x",
     SEARCH.replace("WHERE ?1 IS NULL", "WHERE CAST(?1 AS text) IS NULL"), [T("%jones%"), I(20)], USER_READ,
     why="the `IS NULL` cast alone, without lower(): PostgreSQL's LIKE on text is case-sensitive, so it "
         "misses JONES (expected to differ: this is why the rewrite lowers both sides)")
case("users::all", "a", "SELECT " + USER_COLUMNS + " FROM users u ORDER BY u.number", [], USER_READ)
UPDATE = ("UPDATE users SET\n"
          "            name = COALESCE(?2, name),\n"
          "            first_name = COALESCE(?3, first_name),\n"
          "            last_name = COALESCE(?4, last_name),\n"
          "            email = CASE WHEN ?5 THEN ?6 ELSE email END,\n"
          "            email_key = CASE WHEN ?5 THEN ?13 ELSE email_key END,\n"
          "            bio = COALESCE(?7, bio),\n"
          "            profile_picture = COALESCE(?8, profile_picture),\n"
          "            public_key = CASE WHEN ?9 THEN ?10 ELSE public_key END,\n"
          "            ready_to_chat = COALESCE(?11, ready_to_chat),\n"
          "            password_hash = COALESCE(?12, password_hash)\n"
          "         WHERE number = ?1")
case("users::update", "a", UPDATE,
     [I(2), T(None), T(None), T(None), Bo(True), T("Bob@Example.org"), T(None), T(None), Bo(False), T(None),
      V("B", True), T(None), T("bob@example.org")],
     why="CASE WHEN ?5 (a bool) and COALESCE(?11, ready_to_chat) type themselves from the columns in PostgreSQL")
case("users::update", "a", UPDATE,
     [I(1), T("Ann S."), T(None), T(None), Bo(False), T(None), T("hello"), T("/api/files/" + F_PICTURE), Bo(False),
      T(None), V("B", True), T(None), T(None)], again=True)
case("users::touch_last_seen", "a", "UPDATE users SET last_seen_at = ?2 WHERE number = ?1", [I(1), I(T0 + 50)])
case("users::ready_with_keys", "a",
     "SELECT number, public_key FROM users\n             WHERE ready_to_chat AND public_key IS NOT NULL ORDER BY number",
     [], "it", why="a bare boolean column as a condition: both")

# ------------------------------------------------ admin.rs (roles, sessions)
case("admin::people", "a", "SELECT COUNT(*) FROM users WHERE NOT is_bot", [], "i")
case("admin::set_role", "a", "UPDATE users SET role = ?2 WHERE number = ?1", [I(1), T("admin")])
case("admin::active_admins", "a",
     "SELECT COUNT(*) FROM users WHERE role = 'admin' AND deactivated_at IS NULL", [], "i")
case("admin::set_deactivated", "a", "UPDATE users SET deactivated_at = ?2 WHERE number = ?1", [I(2), I(T0 + 60)])
case("admin::set_deactivated", "a", "UPDATE users SET deactivated_at = ?2 WHERE number = ?1", [I(2), I(None)],
     again=True)
case("admin::set_password", "a", "UPDATE users SET password_hash = ?2 WHERE number = ?1", [I(2), T("$argon2id$bob2")])

# ------------------------------------------------ conversations.rs
case("conversations::room_by_name", "a", select_one("c.kind = 'room' AND c.name = ?1"), [T("general")],
     CONVERSATION_READ)
CONV_INSERT = ("INSERT INTO conversations (id, kind, name, direct_key, created_by, created_at)\n"
               "         VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
case("conversations::insert", "b", CONV_INSERT,
     [T(C_GENERAL), T("room"), T("General"), T(None), I(1), I(T0 + 100)], "i",
     sql=CONV_INSERT + " RETURNING number", sqlite_after="SELECT last_insert_rowid()",
     why="`last_insert_rowid()` becomes `RETURNING number`")
ADD_MEMBER = ("INSERT OR IGNORE INTO members (conversation, user, last_read, joined_at)\n"
              "             VALUES (?1, ?2, COALESCE((SELECT MAX(id) FROM messages WHERE conversation = ?1), 0), ?3)")
ADD_MEMBER_P = ('INSERT INTO members (conversation, "user", last_read, joined_at)\n'
                "             VALUES (?1, ?2, COALESCE((SELECT MAX(id) FROM messages WHERE conversation = ?1), 0), ?3)\n"
                "             ON CONFLICT DO NOTHING")
WHY_IGNORE = "`INSERT OR IGNORE` becomes `INSERT … ON CONFLICT DO NOTHING` (SQLite 3.24+); " + Q_USER
case("conversations::add_member", "b", ADD_MEMBER, [I(1), I(1), I(T0 + 101)], sql=ADD_MEMBER_P, why=WHY_IGNORE)
case("conversations::add_member", "b", ADD_MEMBER, [I(1), I(2), I(T0 + 101)], sql=ADD_MEMBER_P, again=True)
case("conversations::add_member", "b", ADD_MEMBER, [I(1), I(2), I(T0 + 102)], sql=ADD_MEMBER_P, again=True,
     why="already a member: 0 rows changed in both")
case("conversations::direct_between", "a", select_one("c.direct_key = ?1"), [T("1:2")], CONVERSATION_READ)
case("conversations::insert", "b", CONV_INSERT,
     [T(C_DIRECT), T("direct"), T(None), T("1:2"), I(1), I(T0 + 110)], "i",
     sql=CONV_INSERT + " RETURNING number", sqlite_after="SELECT last_insert_rowid()", again=True)
case("conversations::add_member", "b", ADD_MEMBER, [I(2), I(1), I(T0 + 111)], sql=ADD_MEMBER_P, again=True)
case("conversations::add_member", "b", ADD_MEMBER, [I(2), I(2), I(T0 + 111)], sql=ADD_MEMBER_P, again=True)
case("conversations::insert", "b", CONV_INSERT,
     [T(C_AI), T("ai"), T(None), T("1:3"), I(1), I(T0 + 120)], "i",
     sql=CONV_INSERT + " RETURNING number", sqlite_after="SELECT last_insert_rowid()", again=True)
case("conversations::add_member", "b", ADD_MEMBER, [I(3), I(1), I(T0 + 121)], sql=ADD_MEMBER_P, again=True)
case("conversations::add_member", "b", ADD_MEMBER, [I(3), I(3), I(T0 + 121)], sql=ADD_MEMBER_P, again=True)
case("conversations::insert", "b", CONV_INSERT,
     [T(C_CAFE), T("room"), T("Café"), T(None), I(2), I(T0 + 130)], "i",
     sql=CONV_INSERT + " RETURNING number", sqlite_after="SELECT last_insert_rowid()", again=True)
case("conversations::add_member", "b", ADD_MEMBER, [I(4), I(2), I(T0 + 131)], sql=ADD_MEMBER_P, again=True)
case("conversations::add_member", "b", ADD_MEMBER, [I(4), I(1), I(T0 + 131)], sql=ADD_MEMBER_P, again=True)
case("conversations::by_id", "a", select_one("c.number = ?1"), [I(1)], CONVERSATION_READ)
case("conversations::by_uuid", "a", select_one("c.id = ?1"), [T(C_AI)], CONVERSATION_READ)
case("conversations::room_by_name", "a", select_one("c.kind = 'room' AND c.name = ?1"), [T("GENERAL")],
     CONVERSATION_READ, again=True)

# ------------------------------------------------ changes.rs + messages.rs: sending
NEXT_ID = "INSERT INTO changes (conversation, kind, user, at) VALUES (?1, 'message', ?2, ?3)"
NEXT_ID_P = "INSERT INTO changes (conversation, kind, \"user\", at) VALUES (?1, 'message', ?2, ?3) RETURNING id"
MSG_INSERT = ("INSERT INTO messages (id, conversation, sender, body, file, created_at, updated_at, incomplete, reply_to)\n"
              "         VALUES (?8, ?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7)")
FILE_INSERT = ("INSERT INTO files (id, owner, name, content_type, size, data, created_at)\n"
               "         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")
case("files::insert", "b", FILE_INSERT,
     [T(F_ATTACHED), I(1), T("plan.txt"), T("text/plain"), I(9), Bl(b"the plan!"), I(T0 + 140)], "i",
     sql=FILE_INSERT + " RETURNING number", sqlite_after="SELECT last_insert_rowid()",
     why="`last_insert_rowid()` becomes `RETURNING number`")
case("changes::next_message_id", "b", NEXT_ID, [I(1), I(1), I(T0 + 200)], "i", sql=NEXT_ID_P,
     sqlite_after="SELECT last_insert_rowid()", why=Q_USER + "; `last_insert_rowid()` becomes `RETURNING id`")


def send(conv, sender, text, file, at, incomplete, reply_to, mid, first=False):
    case("messages::insert", "a", MSG_INSERT,
         [I(conv), I(sender), T(text), I(file), I(at), Bo(incomplete), I(reply_to), I(mid)], again=not first,
         why="?8 before ?1 and ?5 twice: numbered parameters keep their numbers as $N")


send(1, 1, "Hello @bob, the plan is attached", 1, T0 + 200, False, None, 1, first=True)
case("mentions::add", "b", 'INSERT OR IGNORE INTO mentions (user, message) VALUES (?1, ?2)', [I(2), I(1)],
     sql='INSERT INTO mentions ("user", message) VALUES (?1, ?2) ON CONFLICT DO NOTHING', why=WHY_IGNORE)
case("changes::next_message_id", "b", NEXT_ID, [I(1), I(2), I(T0 + 210)], "i", sql=NEXT_ID_P,
     sqlite_after="SELECT last_insert_rowid()", again=True)
send(1, 2, "hi ann", None, T0 + 210, False, None, 2)
RECORD = ("INSERT INTO changes (conversation, kind, message, user, audience, data, at)\n"
          "         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")
RECORD_P = ("INSERT INTO changes (conversation, kind, message, \"user\", audience, data, at)\n"
            "         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id")
case("changes::record", "b", RECORD, [I(1), T("read"), I(None), I(2), I(1), T('{"upto":2}'), I(T0 + 220)], "i",
     sql=RECORD_P, sqlite_after="SELECT last_insert_rowid()",
     why=Q_USER + "; `last_insert_rowid()` becomes `RETURNING id`")
case("changes::next_message_id", "b", NEXT_ID, [I(2), I(1), I(T0 + 230)], "i", sql=NEXT_ID_P,
     sqlite_after="SELECT last_insert_rowid()", again=True)
send(2, 1, "psst @bob", None, T0 + 230, False, None, 4)
case("mentions::add", "b", 'INSERT OR IGNORE INTO mentions (user, message) VALUES (?1, ?2)', [I(2), I(4)],
     sql='INSERT INTO mentions ("user", message) VALUES (?1, ?2) ON CONFLICT DO NOTHING', again=True)
case("changes::next_message_id", "b", NEXT_ID, [I(3), I(1), I(T0 + 240)], "i", sql=NEXT_ID_P,
     sqlite_after="SELECT last_insert_rowid()", again=True)
send(3, 1, "a question for the agent", None, T0 + 240, False, None, 5)
UNANSWERED = ("SELECT m.conversation, m.id FROM messages m\n"
              "           JOIN conversations c ON c.number = m.conversation AND c.kind = 'ai'\n"
              "           JOIN users u ON u.number = m.sender AND NOT u.is_bot\n"
              "          WHERE m.created_at > ?1 AND NOT m.deleted\n"
              "            AND NOT EXISTS (SELECT 1 FROM messages r WHERE r.reply_to = m.id)\n"
              "          ORDER BY m.id")
case("messages::unanswered", "a", UNANSWERED, [I(T0)], "ii")
case("changes::next_message_id", "b", NEXT_ID, [I(3), I(3), I(T0 + 250)], "i", sql=NEXT_ID_P,
     sqlite_after="SELECT last_insert_rowid()", again=True)
send(3, 3, "an answer, cut short", None, T0 + 250, True, 5, 6)
case("messages::unanswered", "a", UNANSWERED, [I(T0)], "ii", again=True)
case("changes::next_message_id", "b", NEXT_ID, [I(1), I(1), I(T0 + 260)], "i", sql=NEXT_ID_P,
     sqlite_after="SELECT last_insert_rowid()", again=True)
send(1, 1, "a typo @bob", None, T0 + 260, False, None, 7)
case("mentions::add", "b", 'INSERT OR IGNORE INTO mentions (user, message) VALUES (?1, ?2)', [I(2), I(7)],
     sql='INSERT INTO mentions ("user", message) VALUES (?1, ?2) ON CONFLICT DO NOTHING', again=True)
case("changes::next_message_id", "b", NEXT_ID, [I(4), I(2), I(T0 + 270)], "i", sql=NEXT_ID_P,
     sqlite_after="SELECT last_insert_rowid()", again=True)
send(4, 2, "café au lait @ann", None, T0 + 270, False, None, 8)
case("mentions::add", "b", 'INSERT OR IGNORE INTO mentions (user, message) VALUES (?1, ?2)', [I(1), I(8)],
     sql='INSERT INTO mentions ("user", message) VALUES (?1, ?2) ON CONFLICT DO NOTHING', again=True)

# ------------------------------------------------ messages.rs: reading, editing
case("messages::by_id", "a", msel("WHERE m.id = ?1"), [I(1)], MESSAGE_READ)
case("messages::by_ids", "c", msel("WHERE m.id IN (SELECT value FROM json_each(?1)) ORDER BY m.id DESC"),
     [T("[1,4,6,99]")], MESSAGE_READ,
     pg=msel("WHERE m.id IN (SELECT CAST(value AS bigint) FROM json_array_elements_text(CAST(CAST(?1 AS text) AS json)))\n"
             "             ORDER BY m.id DESC"),
     why="json_each() over an array is SQLite's; PostgreSQL's json_each() takes objects only. The PostgreSQL "
         "body reads the same bound JSON text with json_array_elements_text(). No SQL spelling of 'the integers "
         "of this text' exists in both")
case("messages::page (after)", "a",
     msel("WHERE m.conversation = ?1 AND m.id > ?2 AND m.id < ?3 ORDER BY m.id LIMIT ?4"),
     [I(1), I(1), I(2**63 - 1), I(50)], MESSAGE_READ)
case("messages::page (newest)", "a",
     msel("WHERE m.conversation = ?1 AND m.id > ?2 AND m.id < ?3 ORDER BY m.id DESC LIMIT ?4"),
     [I(1), I(0), I(2**63 - 1), I(2)], MESSAGE_READ)
case("messages::since_for_user", "b",
     msel("WHERE m.conversation IN (SELECT conversation FROM members WHERE user = ?1)\n"
          "           AND m.id > ?2 ORDER BY m.id LIMIT ?3"), [I(2), I(1), I(50)], MESSAGE_READ,
     sql=msel("WHERE m.conversation IN (SELECT conversation FROM members WHERE \"user\" = ?1)\n"
              "           AND m.id > ?2 ORDER BY m.id LIMIT ?3"), why=Q_USER)
case("messages::conversation_of", "a", "SELECT conversation FROM messages WHERE id = ?1", [I(5)], "i")
case("messages::edit", "a", "UPDATE messages SET body = ?2, updated_at = ?3 WHERE id = ?1 AND NOT deleted",
     [I(7), T("a fixed typo @bob"), I(T0 + 300)])
case("mentions::replace (delete)", "a", "DELETE FROM mentions WHERE message = ?1", [I(7)])
case("messages::delete", "b",
     "UPDATE messages SET body = '', file = NULL, deleted = 1, updated_at = ?2\n             WHERE id = ?1 AND NOT deleted",
     [I(7), I(T0 + 310)],
     sql="UPDATE messages SET body = '', file = NULL, deleted = TRUE, updated_at = ?2\n             WHERE id = ?1 AND NOT deleted",
     why="a flag written as 1 becomes TRUE")
case("messages::edit", "a", "UPDATE messages SET body = ?2, updated_at = ?3 WHERE id = ?1 AND NOT deleted",
     [I(7), T("too late"), I(T0 + 320)], again=True, why="deleted: 0 rows in both")
case("messages::context", "a",
     msel("WHERE m.conversation = ?1 AND (m.id <= ?2 OR m.reply_to < ?2) AND NOT m.deleted AND NOT m.incomplete\n"
          "         ORDER BY COALESCE(m.reply_to, m.id) DESC, m.id DESC LIMIT ?3"), [I(3), I(5), I(20)], MESSAGE_READ)
# assemble()'s lookups
case("messages::assemble (sender)", "a", "SELECT " + BRIEF_COLUMNS + " FROM users u WHERE u.number = ?1", [I(1)],
     BRIEF_READ)
case("messages::assemble (conversation)", "a",
     "SELECT id, kind IN ('direct', 'ai') FROM conversations WHERE number = ?1", [I(2)], "tB")
case("messages::assemble (read marks)", "b", "SELECT user, last_read FROM members WHERE conversation = ?1", [I(2)],
     "ii", sql='SELECT "user", last_read FROM members WHERE conversation = ?1', unordered=True,
     why=Q_USER + " (unquoted, PostgreSQL reads CURRENT_USER, a `name`, and the i64 read fails)")

# ------------------------------------------------ mentions.rs, reactions.rs
case("mentions::of", "a",
     "SELECT " + BRIEF_COLUMNS + " FROM mentions mn JOIN users u ON u.number = mn.user WHERE mn.message = ?1",
     [I(1)], BRIEF_READ, unordered=True, why=Q_QUAL)
case("mentions::unread", "a",
     "SELECT COUNT(*) FROM mentions mn JOIN messages m ON m.id = mn.message\n"
     "              WHERE mn.user = ?1 AND mn.message > ?3 AND m.conversation = ?2", [I(2), I(1), I(0)], "i",
     why=Q_QUAL)
OF_USER = ("SELECT mn.message FROM mentions mn\n"
           "           JOIN messages m ON m.id = mn.message\n"
           "           JOIN members mb ON mb.conversation = m.conversation AND mb.user = mn.user\n"
           "          WHERE mn.user = ?1 AND mn.message < ?2\n"
           "          ORDER BY mn.message DESC LIMIT ?3")
case("mentions::of_user", "a", OF_USER, [I(2), I(2**63 - 1), I(20)], "i", why=Q_QUAL)
REACT_ADD = "INSERT OR IGNORE INTO reactions (message, emoji, user, created_at) VALUES (?1, ?2, ?3, ?4)"
REACT_ADD_P = 'INSERT INTO reactions (message, emoji, "user", created_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING'
case("reactions::add", "b", REACT_ADD, [I(1), T("👍"), I(2), I(T0 + 400)], sql=REACT_ADD_P, why=WHY_IGNORE)
case("reactions::add", "b", REACT_ADD, [I(1), T("🎉"), I(1), I(T0 + 401)], sql=REACT_ADD_P, again=True)
case("reactions::add", "b", REACT_ADD, [I(1), T("👍"), I(1), I(T0 + 402)], sql=REACT_ADD_P, again=True)
case("reactions::add", "b", REACT_ADD, [I(1), T("👍"), I(2), I(T0 + 403)], sql=REACT_ADD_P, again=True,
     why="the same reaction again: 0 rows in both")
case("reactions::remove", "b", "DELETE FROM reactions WHERE message = ?1 AND emoji = ?2 AND user = ?3",
     [I(1), T("🎉"), I(1)], sql='DELETE FROM reactions WHERE message = ?1 AND emoji = ?2 AND "user" = ?3', why=Q_USER)
REACT_OF = ("SELECT r.emoji, MIN(r.created_at) OVER (PARTITION BY r.emoji) AS first, " + BRIEF_COLUMNS +
            " FROM reactions r JOIN users u ON u.number = r.user\n"
            "              WHERE r.message = ?1 ORDER BY first, r.emoji, r.created_at")
case("reactions::of", "a", REACT_OF, [I(1)], "ti" + BRIEF_READ,
     why=Q_QUAL + "; the window function and ORDER BY its alias work in both")

# ------------------------------------------------ conversations.rs: members, marks, lists
case("conversations::membership", "b", "SELECT last_read FROM members WHERE conversation = ?1 AND user = ?2",
     [I(1), I(2)], "i", sql='SELECT last_read FROM members WHERE conversation = ?1 AND "user" = ?2', why=Q_USER)
case("conversations::member_ids", "b", "SELECT user FROM members WHERE conversation = ?1 ORDER BY user", [I(1)], "i",
     sql='SELECT "user" FROM members WHERE conversation = ?1 ORDER BY "user"', why=Q_USER)
case("conversations::members", "a",
     "SELECT " + BRIEF_COLUMNS + " FROM members m JOIN users u ON u.number = m.user WHERE m.conversation = ?1 ORDER BY m.user",
     [I(4)], BRIEF_READ, why=Q_QUAL)
MARK_READ = "UPDATE members SET last_read = ?3 WHERE conversation = ?1 AND user = ?2 AND last_read < ?3"
case("conversations::mark_read", "b", MARK_READ, [I(1), I(2), I(2)], sql=MARK_READ.replace("AND user", 'AND "user"'),
     why=Q_USER)
case("conversations::mark_read", "b", MARK_READ, [I(1), I(2), I(1)], sql=MARK_READ.replace("AND user", 'AND "user"'),
     again=True, why="never back: 0 rows in both")
case("conversations::member_count", "a", "SELECT COUNT(*) FROM members WHERE conversation = ?1", [I(1)], "i")
case("conversations::mark", "b", "SELECT last_read, notify FROM members WHERE conversation = ?1 AND user = ?2",
     [I(1), I(2)], "it", sql='SELECT last_read, notify FROM members WHERE conversation = ?1 AND "user" = ?2', why=Q_USER)
case("conversations::set_notify", "b", "UPDATE members SET notify = ?3 WHERE conversation = ?1 AND user = ?2",
     [I(1), I(2), T("mentions")], sql='UPDATE members SET notify = ?3 WHERE conversation = ?1 AND "user" = ?2',
     why=Q_USER)
case("conversations::notify_levels", "b", "SELECT user, notify FROM members WHERE conversation = ?1", [I(1)], "it",
     sql='SELECT "user", notify FROM members WHERE conversation = ?1', unordered=True, why=Q_USER)
case("conversations::summary (unread)", "a",
     "SELECT COUNT(*) FROM messages\n             WHERE conversation = ?1 AND id > ?2 AND sender != ?3 AND NOT deleted",
     [I(1), I(0), I(2)], "i")
case("conversations::rename_room", "a", "UPDATE conversations SET name = ?2 WHERE number = ?1 AND kind = 'room'",
     [I(1), T("Lobby")])
case("conversations::ids_of", "b", "SELECT conversation FROM members WHERE user = ?1", [I(1)], "i",
     sql='SELECT conversation FROM members WHERE "user" = ?1', unordered=True, why=Q_USER)
FOR_USER = ("SELECT " + CONVERSATION_COLUMNS + ", m.last_read, m.notify FROM members m JOIN conversations c ON c.number = m.conversation\n"
            "         WHERE m.user = ?1\n"
            "         ORDER BY COALESCE((SELECT MAX(id) FROM messages WHERE conversation = c.number), 0) DESC, c.number DESC")
case("conversations::for_user", "a", FOR_USER, [I(1)], CONVERSATION_READ + "it", why=Q_QUAL)
ROOMS = ("SELECT " + CONVERSATION_COLUMNS + ", (SELECT COUNT(*) FROM members WHERE conversation = c.number),\n"
         "           EXISTS (SELECT 1 FROM members WHERE conversation = c.number AND user = ?1)\n"
         "         FROM conversations c WHERE c.kind = 'room' ORDER BY c.name")
case("conversations::rooms", "b", ROOMS, [I(2)], CONVERSATION_READ + "iB", sql=ROOMS.replace("AND user", 'AND "user"'),
     why=Q_USER + "; COUNT(*) is bigint and EXISTS boolean in both")
CONTACTS = ("SELECT DISTINCT b.user FROM members a JOIN members b ON b.conversation = a.conversation\n"
            "             WHERE a.user = ?1 AND b.user != ?1")
case("conversations::contacts", "a", CONTACTS, [I(1)], "i", unordered=True, why=Q_QUAL)
DIRECTS = ("SELECT " + CONVERSATION_COLUMNS + ", " + BRIEF_COLUMNS +
           ", (SELECT MAX(id) FROM messages WHERE conversation = c.number) AS last_id\n"
           "         FROM members me\n"
           "         JOIN conversations c ON c.number = me.conversation AND c.kind IN ('direct', 'ai')\n"
           "         JOIN members other ON other.conversation = c.number AND other.user != me.user\n"
           "         JOIN users u ON u.number = other.user\n"
           "         WHERE me.user = ?1\n"
           "         ORDER BY c.number")
case("conversations::directs_of", "a", DIRECTS, [I(1)], CONVERSATION_READ + BRIEF_READ + "i", why=Q_QUAL)

# ------------------------------------------------ files.rs
case("files::insert", "b", FILE_INSERT,
     [T(F_PICTURE), I(1), T("me.png"), T("image/png"), I(4), Bl(b"\x89PNG"), I(T0 + 500)], "i",
     sql=FILE_INSERT + " RETURNING number", sqlite_after="SELECT last_insert_rowid()", again=True)
case("files::insert", "b", FILE_INSERT,
     [T(F_STRAY), I(2), T("old.bin"), T("application/octet-stream"), I(3), Bl(b"old"), I(T0 + 10)], "i",
     sql=FILE_INSERT + " RETURNING number", sqlite_after="SELECT last_insert_rowid()", again=True)
case("files::stored_bytes", "b", "SELECT COALESCE(SUM(size), 0) FROM files WHERE owner = ?1", [I(1)], "i",
     sql="SELECT CAST(COALESCE(SUM(size), 0) AS bigint) FROM files WHERE owner = ?1",
     why="SUM over bigint is numeric in PostgreSQL and Rust reads an i64")
FSEL = "SELECT f.number, f.id, f.owner, f.name, f.content_type, f.size FROM files f WHERE "
case("files::by_id", "a", FSEL + "f.number = ?1", [I(1)], "ititti")
case("files::by_uuid", "a", FSEL + "f.id = ?1", [T(F_PICTURE)], "ititti")
CAN_READ = ("SELECT EXISTS (SELECT 1 FROM files WHERE number = ?1 AND owner = ?2)\n"
            "             OR EXISTS (SELECT 1 FROM messages m JOIN members mb ON mb.conversation = m.conversation\n"
            "                        WHERE m.file = ?1 AND mb.user = ?2)\n"
            "             OR EXISTS (SELECT 1 FROM files f JOIN users u ON u.number = f.owner\n"
            "                        WHERE f.number = ?1 AND u.profile_picture = '/api/files/' || f.id)")
case("files::can_read", "a", CAN_READ, [I(1), I(2)], "B", why=Q_QUAL)
case("files::can_read", "a", CAN_READ, [I(2), I(3)], "B", again=True,
     why="the profile picture: '/api/files/' || f.id is the same text in both (a text UUID)")
case("files::can_read", "a", CAN_READ, [I(3), I(1)], "B", again=True)
case("files::data", "a", "SELECT data FROM files WHERE number = ?1", [I(1)], "b")
case("files::remove_unattached", "a",
     "DELETE FROM files WHERE created_at < ?1\n"
     "           AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.file = files.number)\n"
     "           AND NOT EXISTS (SELECT 1 FROM users u WHERE u.profile_picture = '/api/files/' || files.id)",
     [I(T0 + 1000)], why="removes the stray file only (the picture is kept by its text UUID)")

# ------------------------------------------------ sessions.rs
case("sessions::create", "b", "INSERT INTO sessions (id, user, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
     [T(S_ANN), I(1), I(T0 + 600), I(T0 + 10**12)],
     sql='INSERT INTO sessions (id, "user", created_at, expires_at) VALUES (?1, ?2, ?3, ?4)', why=Q_USER)
for sid, at in ((S_BOB1, 601), (S_BOB2, 602)):
    case("sessions::create", "b", "INSERT INTO sessions (id, user, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
         [T(sid), I(2), I(T0 + at), I(T0 + 10**12)],
         sql='INSERT INTO sessions (id, "user", created_at, expires_at) VALUES (?1, ?2, ?3, ?4)', again=True)
case("sessions::add_refresh_token", "a", "INSERT INTO refresh_tokens (hash, session) VALUES (?1, ?2)",
     [Bl(TOKEN), T(S_BOB1)])
TAKE = ("SELECT s.id, t.used_at, s.user, s.revoked_at IS NULL AND s.expires_at > ?2\n"
        "             FROM refresh_tokens t JOIN sessions s ON s.id = t.session WHERE t.hash = ?1")
case("sessions::take_refresh_token (look up)", "a", TAKE, [Bl(TOKEN), I(T0 + 700)], "tiiB",
     why=Q_QUAL + "; the liveness test reads as bool in both")
case("sessions::take_refresh_token (mark used)", "a", "UPDATE refresh_tokens SET used_at = ?2 WHERE hash = ?1",
     [Bl(TOKEN), I(T0 + 700)])
case("sessions::set_current_room", "a", "UPDATE sessions SET current_room = ?2 WHERE id = ?1", [T(S_BOB1), I(4)])
case("sessions::current_room", "a", "SELECT current_room FROM sessions WHERE id = ?1", [T(S_BOB1)], "i")

# ------------------------------------------------ push.rs
PUSH_ADD = ("INSERT INTO push_subscriptions (user, session, endpoint, p256dh, auth, created_at)\n"
            "         VALUES (?1, ?2, ?3, ?4, ?5, ?6)\n"
            "         ON CONFLICT (endpoint) DO UPDATE SET\n"
            "             user = excluded.user, session = excluded.session, p256dh = excluded.p256dh,\n"
            "             auth = excluded.auth, created_at = excluded.created_at")
PUSH_ADD_P = PUSH_ADD.replace("(user,", '("user",').replace("user = excluded.user", '"user" = excluded."user"')
PUSHES = [(2, S_BOB1, "https://push.example/1", 800), (2, S_BOB2, "https://push.example/2", 801),
          (2, S_BOB2, "https://push.example/3", 802), (1, S_ANN, "https://push.example/4", 803),
          (2, S_BOB1, "https://push.example/5", 804), (1, S_ANN, "https://push.example/1", 805)]
for n, (u, s, ep, at) in enumerate(PUSHES):
    case("push::add (upsert)", "b", PUSH_ADD, [I(u), T(s), T(ep), T("BPk"), T("au"), I(T0 + at)], sql=PUSH_ADD_P,
         again=n > 0, why=Q_USER + " (in the column list and as the DO UPDATE's target)" if n == 0 else
         ("endpoint 1 again, now ann's: the row (id 1) is taken over. PostgreSQL takes a value from the identity "
          "before it meets the conflict, so its next id will be 7 where SQLite's is 6: ids may differ between the "
          "engines (a gap), never what they point at. (Taken over last here so both engines number the rows alike.)"
          if n == len(PUSHES) - 1 else ""))
TRIM = ("DELETE FROM push_subscriptions WHERE id IN (\n"
        "                 SELECT id FROM push_subscriptions WHERE user = ?1\n"
        "                 ORDER BY created_at DESC, id DESC LIMIT -1 OFFSET ?2)")
TRIM_P = ("DELETE FROM push_subscriptions WHERE \"user\" = ?1 AND id NOT IN (\n"
          "                 SELECT id FROM push_subscriptions WHERE \"user\" = ?1\n"
          "                 ORDER BY created_at DESC, id DESC LIMIT ?2)")
case("push::add (keep the newest)", "b", TRIM, [I(2), I(2)], sql=TRIM_P,
     why="`LIMIT -1` (SQLite's 'no limit', there because SQLite has no OFFSET without LIMIT) is an error in "
         "PostgreSQL: delete the user's rows NOT IN the newest `keep` instead; " + Q_USER + ". Rust must bind "
         "`keep` as i64, not u32 (postgres-types maps u32 to `oid`)")
case("push::remove", "b", "DELETE FROM push_subscriptions WHERE user = ?1 AND endpoint = ?2",
     [I(2), T("https://push.example/none")],
     sql='DELETE FROM push_subscriptions WHERE "user" = ?1 AND endpoint = ?2', why=Q_USER)
OF_USERS = ("SELECT p.id, p.user, p.endpoint, p.p256dh, p.auth FROM push_subscriptions p\n"
            "         LEFT JOIN sessions s ON s.id = p.session\n"
            "         WHERE p.user = ?1 AND (p.session IS NULL OR (s.revoked_at IS NULL AND s.expires_at > ?2))")
case("push::of_users", "a", OF_USERS, [I(1), I(T0 + 900)], "iittt", unordered=True, why=Q_QUAL)
case("push::subscribed_users", "b", "SELECT DISTINCT user FROM push_subscriptions", [], "i",
     sql='SELECT DISTINCT "user" FROM push_subscriptions', unordered=True,
     why=Q_USER + ": unquoted, PostgreSQL prepares it and returns the login name (a `name`) on every row")
case("push::remove_id", "a", "DELETE FROM push_subscriptions WHERE id = ?1", [I(4)])

# ------------------------------------------------ sessions.rs: revoking
case("sessions::revoke", "a", "UPDATE sessions SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
     [T(S_BOB2), I(T0 + 1100)], why="the trigger ending the session's pushes fires in both")
case("sessions::revoked_since", "a", "SELECT id FROM sessions WHERE revoked_at > ?1", [I(T0)], "t", unordered=True)
REV_OTHERS_SEL = "SELECT id FROM sessions WHERE user = ?1 AND id != ?2 AND revoked_at IS NULL"
case("sessions::revoke_others (which)", "b", REV_OTHERS_SEL, [I(2), T(S_BOB2)], "t",
     sql=REV_OTHERS_SEL.replace("user =", '"user" ='), unordered=True, why=Q_USER)
REV_OTHERS = "UPDATE sessions SET revoked_at = ?3 WHERE user = ?1 AND id != ?2 AND revoked_at IS NULL"
case("sessions::revoke_others (revoke)", "b", REV_OTHERS, [I(2), T(S_BOB2), I(T0 + 1200)],
     sql=REV_OTHERS.replace("user =", '"user" ='), why=Q_USER)
case("push::of_users", "a", OF_USERS, [I(2), I(T0 + 1300)], "iittt", unordered=True, again=True)

# ------------------------------------------------ social.rs
FRIEND = "INSERT OR IGNORE INTO friends (user, friend, created_at) VALUES (?1, ?2, ?3)"
FRIEND_P = 'INSERT INTO friends ("user", friend, created_at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING'
case("social::add_friend", "b", FRIEND, [I(1), I(2), I(T0 + 1400)], sql=FRIEND_P, why=WHY_IGNORE)
case("social::add_friend", "b", FRIEND, [I(1), I(3), I(T0 + 1401)], sql=FRIEND_P, again=True)
case("social::add_friend", "b", FRIEND, [I(1), I(2), I(T0 + 1402)], sql=FRIEND_P, again=True,
     why="already a friend: 0 rows in both")
case("social::remove_friend", "b", "DELETE FROM friends WHERE user = ?1 AND friend = ?2", [I(1), I(3)],
     sql='DELETE FROM friends WHERE "user" = ?1 AND friend = ?2', why=Q_USER)
case("social::friends", "a",
     "SELECT " + USER_COLUMNS + " FROM friends fr JOIN users u ON u.number = fr.friend WHERE fr.user = ?1 ORDER BY u.number",
     [I(1)], USER_READ, why=Q_QUAL)
POST = "INSERT INTO posts (author, title, content, created_at) VALUES (?1, ?2, ?3, ?4)"
case("social::add_post", "b", POST, [I(1), T("Hello"), T("first post"), I(T0 + 1500)], "i",
     sql=POST + " RETURNING id", sqlite_after="SELECT last_insert_rowid()",
     why="`last_insert_rowid()` becomes `RETURNING id`")
case("social::add_post", "b", POST, [I(2), T("Hi"), T("me too"), I(T0 + 1501)], "i",
     sql=POST + " RETURNING id", sqlite_after="SELECT last_insert_rowid()", again=True)
POSTS = "SELECT id, author, title, content, created_at FROM posts\n             WHERE ?1 IS NULL OR author = ?1 ORDER BY id"
POSTS_P = ("SELECT id, author, title, content, created_at FROM posts\n"
           "             WHERE CAST(?1 AS bigint) IS NULL OR author = ?1 ORDER BY id")
case("social::posts", "b", POSTS, [I(None)], "iitti", sql=POSTS_P, why=Q_NULL)
case("social::posts", "b", POSTS, [I(2)], "iitti", sql=POSTS_P, again=True)

# ------------------------------------------------ admin.rs: invitations, resets, audit
INV_INSERT = ("INSERT INTO invites (id, code_hash, created_by, created_at, expires_at, max_uses)\n"
              "         VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
case("admin::insert_invite", "a", INV_INSERT, [T(INV), Bl(CODE), I(1), I(T0 + 1600), I(None), I(2)])
INVITES = ("SELECT " + INVITE_COLUMNS + " FROM invites i LEFT JOIN users u ON u.number = i.created_by\n"
           "         WHERE ?1 IS NULL OR i.created_by = ?1 ORDER BY i.created_at DESC")
INVITES_P = INVITES.replace("WHERE ?1 IS NULL", "WHERE CAST(?1 AS bigint) IS NULL")
case("admin::invites", "b", INVITES, [I(None)], INVITE_READ, sql=INVITES_P, why=Q_NULL)
case("admin::invites", "b", INVITES, [I(1)], INVITE_READ, sql=INVITES_P, again=True)
case("admin::invite", "a",
     "SELECT " + INVITE_COLUMNS + " FROM invites i LEFT JOIN users u ON u.number = i.created_by WHERE i.id = ?1",
     [T(INV)], INVITE_READ)
case("admin::use_invite (look up)", "a",
     "SELECT id, expires_at, max_uses, uses, revoked_at FROM invites WHERE code_hash = ?1", [Bl(CODE)], "tiiii")
case("admin::use_invite (use one)", "a", "UPDATE invites SET uses = uses + 1 WHERE id = ?1", [T(INV)])
case("admin::revoke_invite", "a", "UPDATE invites SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
     [T(INV), I(T0 + 1700)])
RESET_DEL = "DELETE FROM password_resets WHERE user = ?1 AND used_at IS NULL"
RESET_INS = ("INSERT INTO password_resets (token_hash, user, created_by, created_at, expires_at) "
             "VALUES (?1, ?2, ?3, ?4, ?5)")
case("admin::insert_reset (drop the live one)", "b", RESET_DEL, [I(2)], sql=RESET_DEL.replace("user =", '"user" ='),
     why=Q_USER)
case("admin::insert_reset (insert)", "b", RESET_INS, [Bl(RESET), I(2), I(1), I(T0 + 1800), I(T0 + 5000)],
     sql=RESET_INS.replace(" user,", ' "user",'), why=Q_USER)
case("admin::insert_reset (drop the live one)", "b", RESET_DEL, [I(2)], sql=RESET_DEL.replace("user =", '"user" ='),
     again=True, why="a new link replaces the old: 1 row in both")
case("admin::insert_reset (insert)", "b", RESET_INS, [Bl(RESET2), I(2), I(1), I(T0 + 1801), I(T0 + 5000)],
     sql=RESET_INS.replace(" user,", ' "user",'), again=True)
CHECK_RESET = "SELECT user, expires_at, used_at FROM password_resets WHERE token_hash = ?1"
case("admin::check_reset", "b", CHECK_RESET, [Bl(RESET2)], "iii", sql=CHECK_RESET.replace("SELECT user", 'SELECT "user"'),
     why=Q_USER + " (unquoted, PostgreSQL returns the login name)")
case("admin::use_reset", "a", "UPDATE password_resets SET used_at = ?2 WHERE token_hash = ?1",
     [Bl(RESET2), I(T0 + 1900)])
case("admin::audit", "a", "INSERT INTO audit (at, actor, action, target, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
     [I(T0 + 2000), I(1), T("reset"), T("bob"), T("")])
case("admin::audit", "a", "INSERT INTO audit (at, actor, action, target, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
     [I(T0 + 2001), I(None), T("role"), T("ann"), T("admin")], again=True)
case("admin::audit_log", "a",
     "SELECT a.at, u.username, a.action, a.target, a.detail FROM audit a\n"
     "           LEFT JOIN users u ON u.number = a.actor\n         ORDER BY a.id DESC LIMIT ?1", [I(50)], "itttt")
COUNTS = ("SELECT (SELECT COUNT(*) FROM users WHERE NOT is_bot),\n"
          "                (SELECT COUNT(*) FROM conversations WHERE kind = 'room'),\n"
          "                (SELECT COUNT(*) FROM messages WHERE NOT deleted),\n"
          "                (SELECT COUNT(*) FROM files),\n"
          "                (SELECT COALESCE(SUM(size), 0) FROM files)")
case("admin::counts", "b", COUNTS, [], "iiiii",
     sql=COUNTS.replace("(SELECT COALESCE(SUM(size), 0) FROM files)", "(SELECT CAST(COALESCE(SUM(size), 0) AS bigint) FROM files)"),
     why="SUM over bigint is numeric in PostgreSQL")
REV_ALL_SEL = "SELECT id FROM sessions WHERE user = ?1 AND revoked_at IS NULL"
case("admin::revoke_all_sessions (which)", "b", REV_ALL_SEL, [I(1)], "t",
     sql=REV_ALL_SEL.replace("user =", '"user" ='), unordered=True,
     why=Q_USER + " (unquoted, `user = ?1` types ?1 as `name`: binding an i64 fails)")
REV_ALL = "UPDATE sessions SET revoked_at = ?2 WHERE user = ?1 AND revoked_at IS NULL"
case("admin::revoke_all_sessions (revoke)", "b", REV_ALL, [I(1), I(T0 + 2100)], sql=REV_ALL.replace("user =", '"user" ='),
     why=Q_USER)
case("push::of_users", "a", OF_USERS, [I(1), I(T0 + 2200)], "iittt", unordered=True, again=True, why="ann's session revoked: her subscription is gone (trigger) in both")

# ------------------------------------------------ changes.rs: the log
AFTER_CONV = ("SELECT id, conversation, kind, message, user, data FROM changes\n"
              "              WHERE id > ?1 AND conversation = ?2 AND (audience != 3 OR user = ?4) ORDER BY id LIMIT ?3")
case("changes::after (one conversation)", "b", AFTER_CONV, [I(0), I(1), I(100), I(2)], "iitiit",
     sql=AFTER_CONV.replace(", user,", ', "user",').replace("OR user", 'OR "user"'), why=Q_USER)
AFTER_ALL = ("SELECT id, conversation, kind, message, user, data FROM changes\n"
             "              WHERE id > ?1\n"
             "                AND ((audience != 3 AND conversation IN (SELECT conversation FROM members WHERE user = ?2))\n"
             "                     OR audience = 2 OR (audience IN (1, 3) AND user = ?2))\n"
             "              ORDER BY id LIMIT ?3")
case("changes::after (everything)", "b", AFTER_ALL, [I(1), I(2), I(100)], "iitiit",
     sql=AFTER_ALL.replace(", user,", ', "user",').replace("WHERE user", 'WHERE "user"').replace("AND user", 'AND "user"'),
     why=Q_USER)
IMPORTED = ("INSERT OR IGNORE INTO changes (id, conversation, kind, user, at) VALUES (?1, ?2, 'message', ?3, ?4)")
IMPORTED_P = ('INSERT INTO changes (id, conversation, kind, "user", at) VALUES (?1, ?2, \'message\', ?3, ?4)\n'
              "         ON CONFLICT DO NOTHING")
case("changes::imported_message", "b", IMPORTED, [I(2), I(1), I(2), I(T0 + 210)], sql=IMPORTED_P,
     why=WHY_IGNORE + "; an id already there: 0 rows in both")
case("changes::imported_message", "b", IMPORTED, [I(500), I(1), I(1), I(T0 + 2300)], sql=IMPORTED_P, again=True,
     why="a new id: kept as given in both (PostgreSQL's sequence does not move: an import ends with setval, NOTES.md)")
case("changes::last_before", "a", "SELECT id, at FROM changes WHERE id >= ?1 ORDER BY id LIMIT 1", [I(3)], "ii")
case("changes::prune (delete)", "a",
     "DELETE FROM changes WHERE id IN (SELECT id FROM changes WHERE id <= ?1 ORDER BY id LIMIT ?2)", [I(4), I(3)])
case("changes::prune (what went)", "a", "SELECT MIN(id) - 1 FROM changes WHERE id <= ?1", [I(4)], "i",
     why="MIN(bigint) - 1 is bigint in PostgreSQL")
FLOOR_UPSERT = ("INSERT INTO meta (key, value) VALUES (?1, ?2)\n"
                "         ON CONFLICT (key) DO UPDATE SET value = MAX(CAST(value AS INTEGER), excluded.value)")
FLOOR_UPSERT_PG = ("INSERT INTO meta_integers (key, value) VALUES (?1, ?2)\n"
                   "         ON CONFLICT (key) DO UPDATE\n"
                   "         SET value = CASE WHEN excluded.value > meta_integers.value THEN excluded.value ELSE meta_integers.value END")
case("changes::prune (raise the floor)", "c", FLOOR_UPSERT, [T("changes_floor"), I(3)], pg=FLOOR_UPSERT_PG,
     why="an i64 bound into meta's BLOB column, and scalar MAX(a, b) (GREATEST in PostgreSQL): meta.value is "
         "bytea in PostgreSQL and takes no i64. The PostgreSQL body writes meta_integers, the same statement "
         "portable once SQLite has that table too (proposed 0010)")
case("changes::prune (raise the floor)", "c", FLOOR_UPSERT, [T("changes_floor"), I(2)], pg=FLOOR_UPSERT_PG, again=True,
     why="never lowered")
case("changes::floor", "c", "SELECT CAST(value AS INTEGER) FROM meta WHERE key = ?1", [T("changes_floor")], "i",
     pg="SELECT value FROM meta_integers WHERE key = ?1",
     why="CAST(bytea AS integer) does not exist in PostgreSQL (and `integer` is int4)")
case("changes::latest", "c", "SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'changes'), 0)", [], "i",
     pg="SELECT COALESCE((SELECT MAX(id) FROM changes),\n"
        "                       (SELECT value FROM meta_integers WHERE key = 'changes_floor'), 0)",
     why="sqlite_sequence is SQLite's; PostgreSQL's sequence value may be an id not yet committed. Pruning "
         "deletes the oldest ids only, so the newest id is MAX(id), or the floor once every row is pruned "
         "(the same number sqlite_sequence holds)")

# ------------------------------------------------ the end: leaving, deleting
case("conversations::remove_member", "b", "DELETE FROM members WHERE conversation = ?1 AND user = ?2", [I(4), I(1)],
     sql='DELETE FROM members WHERE conversation = ?1 AND "user" = ?2', why=Q_USER)
case("conversations::delete", "a", "DELETE FROM conversations WHERE number = ?1", [I(4)],
     why="cascades to members, messages, mentions; sets sessions.current_room NULL, in both")
case("sessions::current_room", "a", "SELECT current_room FROM sessions WHERE id = ?1", [T(S_BOB1)], "i", again=True)
case("admin::counts", "b", COUNTS, [], "iiiii",
     sql=COUNTS.replace("(SELECT COALESCE(SUM(size), 0) FROM files)", "(SELECT CAST(COALESCE(SUM(size), 0) AS bigint) FROM files)"),
     again=True)

# ------------------------------------------------ search.rs: not MATCH, still FTS5's
IDX_WORDS = ("INSERT INTO messages_words (rowid, body)\n"
             "         SELECT m.id, m.body FROM messages m\n"
             "          WHERE m.id IN (SELECT id FROM search_queue ORDER BY id LIMIT ?1)\n"
             "            AND NOT m.deleted AND m.body != ''")
IDX_TRI = ("INSERT INTO messages_trigrams (rowid, body)\n"
           "         SELECT m.id, m.body || '  ' FROM messages m\n"
           "          WHERE m.id IN (SELECT id FROM search_queue ORDER BY id LIMIT ?1)\n"
           "            AND NOT m.deleted AND m.body != ''")
WHY_QUEUE = ("no search_queue and no FTS5 tables in PostgreSQL: the GIN indexes are written by the statement that "
             "writes the message, so index_queued has nothing to do there")
case("search::index_oldest (words)", "c", IDX_WORDS, [I(-1)], pg="", why=WHY_QUEUE)
case("search::index_oldest (trigrams)", "c", IDX_TRI, [I(-1)], pg="", why=WHY_QUEUE)
case("search::index_oldest (dequeue)", "c",
     "DELETE FROM search_queue WHERE id IN (SELECT id FROM search_queue ORDER BY id LIMIT ?1)", [I(-1)], pg="",
     why=WHY_QUEUE)
case("search::trigrams_starting", "c", "SELECT term FROM messages_trigram_terms WHERE term >= ?1 AND term < ?2 LIMIT ?3",
     [T("ca"), T("ca\U0010ffff\U0010ffff"), I(500)], "t", pg="",
     why="fts5vocab has no PostgreSQL counterpart: a short CJK term is a LIKE filter there (NOTES.md, Search)")

# ---------------------------------------------------------------- running


def sh(cmd, stdin):
    p = subprocess.run(cmd, input=stdin, capture_output=True, text=True, errors="surrogateescape")
    return p.returncode, p.stdout, p.stderr


def pg_sql(sql):
    return re.sub(r"\?(\d+)", r"$\1", sql)


def is_dml(sql):
    return sql.lstrip().split()[0].upper() in ("INSERT", "UPDATE", "DELETE")


def run_sqlite(db, sql, binds, after=None, rollback=False):
    lines = list(SQLITE_PREAMBLE)
    for n, b in enumerate(binds, 1):
        # The CLI strips a dot-command argument's single quotes (then a text
        # like '$x' would be read as SQL: a parameter); in double quotes the
        # argument is taken whole, with \" and \\ escapes.
        lit = b.sqlite().replace("\\", "\\\\").replace('"', '\\"')
        lines.append(f'.parameter set ?{n} "{lit}"')
    if rollback:
        lines.append("BEGIN;")
    lines.append(sql + ";")
    if after:
        lines.append(after + ";")
    if is_dml(sql):
        lines.append("SELECT 'changes=' || changes();")
    if rollback:
        lines.append("ROLLBACK;")
    script = "\n".join(lines) + "\n"
    rc, out, err = sh([SQLITE_CLI, db], script)
    return script, rc, out, err


def run_pg(url, sql, binds, execute=True):
    psql = pg_sql(sql)
    args = ", ".join(b.pg() for b in binds)
    ex = f"EXECUTE s({args})" if binds else "EXECUTE s"
    lines = [f"PREPARE s AS {psql};", PG_DESCRIBE[0], PG_DESCRIBE[1], PG_DESCRIBE[2], ex + r" \gdesc"]
    if execute:
        lines += [PG_DESCRIBE[3], ex + ";"]
    script = "\n".join(lines) + "\n"
    rc, out, err = sh(["psql", "-X", "-At", "-F", "|", "-P", "null=NULL", "-v", "ON_ERROR_STOP=1", url], script)
    return script, rc, out, err


def parse_pg(out):
    sec, params, cols, rows = None, [], [], []
    for line in out.splitlines():
        if line.startswith("---"):
            sec = line[3:]
            continue
        if sec == "params":
            params = [t for t in line.split(",") if t] if line else []
        elif sec == "columns":
            if "|" in line:
                cols.append(line.rsplit("|", 1)[1])
        elif sec == "rows":
            rows.append(line)
    return params, cols, rows


TAG = re.compile(r"^(INSERT 0|UPDATE|DELETE) (\d+)$")


def norm_pg_rows(rows, cols, dml):
    out = []
    for r in rows:
        m = TAG.match(r)
        if m:
            if dml:
                out.append("changes=" + m.group(2))
            continue
        vals = r.split("|")
        if len(vals) == len(cols):
            for k, t in enumerate(cols):
                if vals[k] == "NULL":
                    continue
                if t == "boolean":
                    vals[k] = {"t": "1", "f": "0"}[vals[k]]
                elif t == "bytea" and vals[k].startswith("\\x"):
                    vals[k] = bytes.fromhex(vals[k][2:]).decode("latin-1")
        out.append("|".join(vals))
    return out


def norm_sqlite_rows(out):
    return [line for line in out.splitlines()]


def type_problems(params, cols, binds, read):
    probs = []
    for n, b in enumerate(binds, 1):
        t = params[n - 1] if n - 1 < len(params) else "?"
        if t not in BIND_OK[b.kind]:
            probs.append(f"?{n} is `{t}` in PostgreSQL; Rust binds {RUST[b.kind]} (refused)")
    if len(cols) != len(read):
        probs.append(f"{len(cols)} result columns, Rust reads {len(read)}")
    for k, (t, kind) in enumerate(zip(cols, read)):
        if t not in READ_OK[kind]:
            probs.append(f"column {k + 1} is `{t}`; Rust reads {RUST[kind]} (refused)")
    return probs


# Lines every script has, left out of the transcript (shown once at its top).
SQLITE_PREAMBLE = [".bail on", ".nullvalue NULL", ".mode list", ".separator |", ".parameter init"]
PG_DESCRIBE = [r"\echo ---params",
               "SELECT coalesce(array_to_string(parameter_types, ','), '') FROM pg_prepared_statements WHERE name = 's';",
               r"\echo ---columns", r"\echo ---rows"]
PREAMBLE = set(SQLITE_PREAMBLE + PG_DESCRIBE)


def shown(script):
    return "".join(line + "\n" for line in script.splitlines() if line not in PREAMBLE)


def indent(text, by="    "):
    return "".join(by + line + "\n" for line in text.rstrip("\n").splitlines()) if text.strip() else by + "(nothing)\n"


def main():
    url = subprocess.run([os.path.join(HERE, "up.sh")], capture_output=True, text=True, check=True).stdout.strip()
    base = url.rsplit("/", 1)[0]
    db_url = f"{base}/{PG_DB}"
    work = tempfile.mkdtemp(prefix="natter-portable-")
    sqlite_db = os.path.join(work, "natter.db")

    print("# natter portable SQL check: every statement of src/db/*.rs that tools/pg/portable.md classifies,")
    print("# run with the values Rust binds on SQLite and on PostgreSQL (tools/pg/check-portable.py).")
    v = subprocess.run([SQLITE_CLI, ":memory:", "SELECT 'SQLite ' || sqlite_version()"], capture_output=True,
                       text=True, check=True).stdout.strip()
    print(f"# {v} through the sqlite3 CLI (tools/pg/sqlite-cli.sh; {subprocess.run(['sqlite3', '--version'], capture_output=True, text=True).stdout.split()[0]} CLI binary from Debian)")
    pv = subprocess.run(["psql", "-X", "-At", url, "-c", "SELECT version()"], capture_output=True, text=True,
                        check=True).stdout.strip()
    print(f"# {pv}")
    print(f"# SQLite schema: {CHECKOUT}/migrations/0001…0009 applied in order to a new file;")
    print(f"# PostgreSQL schema: migrations/postgres/0001_initial.sql in a new database {PG_DB}.")
    print()

    migrations = sorted(f for f in os.listdir(os.path.join(CHECKOUT, "migrations")) if re.match(r"\d{4}_.*\.sql$", f))
    print("## Setup")
    for f in migrations:
        rc, out, err = sh([SQLITE_CLI, sqlite_db], open(os.path.join(CHECKOUT, "migrations", f)).read())
        print(f"$ tools/pg/sqlite-cli.sh natter.db < migrations/{f}   -> exit {rc}{(': ' + err.strip()) if err.strip() else ''}")
        if rc != 0:
            sys.exit(1)
    sh(["psql", "-X", "-q", f"{base}/postgres", "-c", f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)"], "")
    rc, out, err = sh(["psql", "-X", "-q", f"{base}/postgres", "-c",
                       f"CREATE DATABASE {PG_DB} TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C.UTF-8'"], "")
    print(f"$ psql {base}/postgres -c \"CREATE DATABASE {PG_DB} TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C.UTF-8'\"   -> exit {rc}")
    rc, out, err = sh(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction", "-f", PG_MIGRATION, db_url], "")
    print(f"$ psql -X -v ON_ERROR_STOP=1 --single-transaction -f migrations/postgres/0001_initial.sql {db_url}   -> exit {rc}")
    if rc != 0:
        print(err)
        sys.exit(1)
    print()
    print("Each case below: the SQL, the values bound (?N = value (Rust type)), then each run as")
    print("`$ <engine> [what]`, the script piped to the CLI (`  | `), and its output (`  > `).")
    print("  sqlite: `tools/pg/sqlite-cli.sh natter.db`; every script starts with")
    print("          " + " / ".join(SQLITE_PREAMBLE) + " (left out below);")
    print("          a DML statement is followed by SELECT 'changes=' || changes().")
    print(f"  psql:   `psql -X -At -F '|' -P null=NULL -v ON_ERROR_STOP=1 {db_url}`; the script PREPAREs")
    print("          the statement as `s` (?N written $N), prints `---params` and the parameter types")
    print("          PostgreSQL inferred (" + PG_DESCRIBE[1] + "),")
    print("          `---columns` and the result columns' types (EXECUTE … \\gdesc), then `---rows` and")
    print("          EXECUTEs it; the \\echo lines and that SELECT are left out below. A DML statement's")
    print("          command tag (INSERT 0 1, UPDATE 1, …) is its count of changed rows.")
    print("Booleans (t/f) and bytea (\\x…) are shown as SQLite shows them before the two outputs are compared.")
    print()

    failures = []
    counts = {}
    seen = set()
    for n, c in enumerate(C, 1):
        key = (c.name, c.cls)
        if c.cls in "abc" and not c.again:
            if c.name in seen:
                raise SystemExit(f"duplicate case name without again=True: {c.name}")
            seen.add(c.name)
            counts[c.cls] = counts.get(c.cls, 0) + 1
        label = {"a": "(a) unchanged", "b": "(b) portable rewrite", "c": "(c) PostgreSQL needs its own body",
                 "x": "(for comparison)"}[c.cls]
        print(f"### {n}. {c.name} — {label}{' (again)' if c.again else ''}")
        if c.why:
            print(f"Why: {c.why}")
        print("SQL" + (" (as in natter)" if c.cls in "bcx" else "") + ":")
        print(indent(c.src))
        if c.cls == "b":
            print("Portable:")
            print(indent(c.sql))
        if c.cls == "c" and c.pg:
            print("PostgreSQL body:")
            print(indent(c.pg))
        if c.binds:
            print("Binds: " + ", ".join(f"?{k} = {b.show()}" for k, b in enumerate(c.binds, 1)))
        if c.read:
            print("Rust reads: " + ", ".join(RUST[k] for k in c.read))
        ok = True
        notes = []

        def show_run(title, script, rc, out, err):
            print(f"$ {title}")
            print(indent(shown(script), "  | "), end="")
            print(indent(out + (("ERROR OUTPUT:\n" + err) if err.strip() else ""), "  > "), end="")

        sqlite_ref = None
        if c.cls == "b":
            s, rc, out, err = run_sqlite(sqlite_db, c.src, c.binds, after=c.sqlite_after, rollback=True)
            show_run("tools/pg/sqlite-cli.sh natter.db   [as in natter, inside BEGIN … ROLLBACK]", s, rc, out, err)
            if rc != 0:
                ok = False
                notes.append("the original failed on SQLite")
            sqlite_orig = norm_sqlite_rows(out)
            s, rc, out, err = run_pg(db_url, c.src, c.binds, execute=False)
            show_run("psql   [as in natter: PREPARE and describe only, never executed]", s, rc, out, err)
            params, cols, _ = parse_pg(out)
            probs = type_problems(params, cols, c.binds, c.read) if rc == 0 else []
            if rc != 0:
                print("  => refused by PostgreSQL: " + err.strip().splitlines()[0])
            elif probs:
                for p in probs:
                    print("  => " + p)
            else:
                # Prepared with the right types: wrong only in what it does
                # (LIKE's case, `user`); the comparison below shows it.
                print("  => prepared with the types Rust binds and reads (what differs is its result)")
            s, rc, out, err = run_sqlite(sqlite_db, c.sql, c.binds)
            show_run("tools/pg/sqlite-cli.sh natter.db   [portable]", s, rc, out, err)
            if rc != 0:
                ok = False
                notes.append("the rewrite failed on SQLite")
            sqlite_ref = norm_sqlite_rows(out)
            if sqlite_orig != sqlite_ref:
                ok = False
                notes.append("on SQLite the rewrite does not give what the original gives")
            else:
                print("  => on SQLite the rewrite gives what the original gave")
            s, rc, out, err = run_pg(db_url, c.sql, c.binds)
            show_run("psql   [portable]", s, rc, out, err)
        elif c.cls == "c":
            s, rc, out, err = run_sqlite(sqlite_db, c.src, c.binds)
            show_run("tools/pg/sqlite-cli.sh natter.db   [as in natter]", s, rc, out, err)
            if rc != 0:
                ok = False
                notes.append("failed on SQLite")
            sqlite_ref = norm_sqlite_rows(out)
            s, rc, out, err = run_pg(db_url, c.src, c.binds, execute=False)
            show_run("psql   [as in natter: PREPARE and describe only]", s, rc, out, err)
            params, cols, _ = parse_pg(out)
            if rc != 0:
                print("  => refused by PostgreSQL: " + err.strip().splitlines()[0])
            else:
                for p in type_problems(params, cols, c.binds, c.read) or ["(prepared)"]:
                    print("  => " + p)
            if c.pg:
                s, rc, out, err = run_pg(db_url, c.pg, c.binds)
                show_run("psql   [the PostgreSQL body]", s, rc, out, err)
            else:
                print("(no PostgreSQL body: nothing to do there)")
                notes.append("SQLite runs it; PostgreSQL refuses it and has nothing to run in its place")
                rc = None
        else:  # a, x
            s, rc, out, err = run_sqlite(sqlite_db, c.sql, c.binds)
            show_run("tools/pg/sqlite-cli.sh natter.db", s, rc, out, err)
            if rc != 0:
                ok = False
                notes.append("failed on SQLite")
            sqlite_ref = norm_sqlite_rows(out)
            s, rc, out, err = run_pg(db_url, c.sql, c.binds)
            show_run("psql", s, rc, out, err)

        if rc is not None:
            if rc != 0:
                ok = False
                notes.append("failed on PostgreSQL")
            else:
                params, cols, rows = parse_pg(out)
                probs = type_problems(params, cols, c.binds, c.read)
                if probs:
                    ok = False
                    notes.extend("PostgreSQL: " + p for p in probs)
                pg_rows = norm_pg_rows(rows, cols, is_dml(c.pg if c.cls == "c" else c.sql))
                a, b = sqlite_ref, pg_rows
                if c.unordered:
                    a, b = sorted(a), sorted(b)
                if a == b:
                    notes.append("types as Rust binds and reads them; SQLite and PostgreSQL agree" +
                                 (" (as sets)" if c.unordered else "") + ": " + ("; ".join(a) if a else "no rows"))
                else:
                    if c.cls == "x":
                        notes.append(f"they differ, as expected: SQLite {a}, PostgreSQL {b}")
                    else:
                        ok = False
                        notes.append(f"SQLite and PostgreSQL differ: SQLite {a}, PostgreSQL {b}")
        verdict = "OK" if ok else "FAILED"
        print(f"Verdict: {verdict}: " + "; ".join(notes))
        print()
        if not ok:
            failures.append(f"{n}. {c.name}")

    # ------------------------------------------------------------ the proposal
    print("## With the proposed SQLite migration 0010 (meta_integers): the (c) statements on meta become shared")
    print()
    m0010 = PROPOSED_0010
    print("SQLite migration (proposed, tools/pg/portable.md), applied to the SQLite file as the cases left it:")
    print(indent(m0010))
    rc, out, err = sh([SQLITE_CLI, sqlite_db], "SELECT 'before: ' || key || ' = ' || quote(value) || ' (' || typeof(value) || ')' FROM meta ORDER BY key;\n")
    print(indent(out, "  > "), end="")
    rc, out, err = sh([SQLITE_CLI, sqlite_db], ".bail on\nBEGIN;\n" + m0010 + "\nCOMMIT;\n")
    print(f"$ tools/pg/sqlite-cli.sh natter.db < 0010 -> exit {rc} {err.strip()}")
    if rc != 0:
        failures.append("0010")
    rc, out, err = sh([SQLITE_CLI, sqlite_db], "SELECT 'after: meta ' || key || ' (' || typeof(value) || ')' FROM meta ORDER BY key;\n"
                      "SELECT 'after: meta_integers ' || key || ' = ' || value || ' (' || typeof(value) || ')' FROM meta_integers ORDER BY key;\n")
    print(indent(out, "  > "))
    shared = [
        ("changes::floor", "SELECT value FROM meta_integers WHERE key = ?1", [T("changes_floor")], "i"),
        ("changes::prune (raise the floor)", FLOOR_UPSERT_PG, [T("changes_floor"), I(4)], ""),
        ("changes::prune (raise the floor)", FLOOR_UPSERT_PG, [T("changes_floor"), I(1)], ""),
        ("changes::floor", "SELECT value FROM meta_integers WHERE key = ?1", [T("changes_floor")], "i"),
        ("changes::latest", "SELECT COALESCE((SELECT MAX(id) FROM changes),\n"
                            "                       (SELECT value FROM meta_integers WHERE key = 'changes_floor'), 0)", [], "i"),
        # Every change pruned: the newest id is then the floor, which is
        # what sqlite_sequence holds too (compared below).
        ("changes::prune (delete), everything", "DELETE FROM changes WHERE id IN (SELECT id FROM changes WHERE id <= ?1 ORDER BY id LIMIT ?2)",
         [I(500), I(1000)], ""),
        ("changes::prune (what went)", "SELECT MIN(id) - 1 FROM changes WHERE id <= ?1", [I(500)], "i"),
        ("changes::prune (raise the floor) to 500, the upto (nothing is left)", FLOOR_UPSERT_PG, [T("changes_floor"), I(500)], ""),
        ("changes::latest, the log empty", "SELECT COALESCE((SELECT MAX(id) FROM changes),\n"
                            "                       (SELECT value FROM meta_integers WHERE key = 'changes_floor'), 0)", [], "i"),
        ("backup::probe", "INSERT INTO meta_integers (key, value) VALUES ('ready_probe', ?1)\n"
                          "         ON CONFLICT (key) DO UPDATE SET value = excluded.value", [I(T0 + 3000)], ""),
        ("backup::probe", "INSERT INTO meta_integers (key, value) VALUES ('ready_probe', ?1)\n"
                          "         ON CONFLICT (key) DO UPDATE SET value = excluded.value", [I(T0 + 3001)], ""),
        ("(the rows)", "SELECT key, value FROM meta_integers ORDER BY key", [], "ti"),
    ]
    for name, sql, binds, read in shared:
        print(f"### {name} — shared once SQLite has meta_integers")
        print(indent(sql))
        if binds:
            print("Binds: " + ", ".join(f"?{k} = {b.show()}" for k, b in enumerate(binds, 1)))
        s, rc1, out1, err1 = run_sqlite(sqlite_db, sql, binds)
        print("$ tools/pg/sqlite-cli.sh natter.db")
        print(indent(shown(s), "  | "), end="")
        print(indent(out1 + err1, "  > "), end="")
        s, rc2, out2, err2 = run_pg(db_url, sql, binds)
        print("$ psql")
        print(indent(shown(s), "  | "), end="")
        print(indent(out2 + err2, "  > "), end="")
        params, cols, rows = parse_pg(out2)
        probs = type_problems(params, cols, binds, read) if rc2 == 0 else ["failed"]
        a, b = norm_sqlite_rows(out1), norm_pg_rows(rows, cols, is_dml(sql))
        if rc1 == 0 and rc2 == 0 and not probs and a == b:
            print("Verdict: OK: same SQL, same binds, same result: " + ("; ".join(a) if a else "no rows"))
        else:
            print(f"Verdict: FAILED: {probs} SQLite {a} PostgreSQL {b}")
            failures.append(name + " (0010)")
        print()

    rc, out, err = sh([SQLITE_CLI, sqlite_db], "SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'changes'), 0);\n")
    print("$ tools/pg/sqlite-cli.sh natter.db   [changes::latest as in natter, for comparison]")
    print(indent("SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'changes'), 0);", "  | "), end="")
    print(indent(out + err, "  > "), end="")
    if out.strip() == "500":
        print("Verdict: OK: sqlite_sequence says 500 too: with every change pruned, MAX(id) falls back to the floor")
    else:
        print("Verdict: FAILED: sqlite_sequence differs")
        failures.append("latest vs sqlite_sequence")
    print()

    # ------------------------------------------------------------ the writer
    print("## writer.rs: the transaction statements around each batch")
    print()
    writer_sqlite = ("BEGIN IMMEDIATE;\nSAVEPOINT job;\nINSERT INTO audit (at, action) VALUES (1, 'kept');\nRELEASE job;\n"
                     "SAVEPOINT job;\nINSERT INTO audit (at, action) VALUES (2, 'undone');\nROLLBACK TO job;\nRELEASE job;\n"
                     "COMMIT;\nBEGIN IMMEDIATE;\nINSERT INTO audit (at, action) VALUES (3, 'rolled back');\nROLLBACK;\n"
                     "SELECT at, action FROM audit WHERE at < 10 ORDER BY at;\n")
    writer_pg = writer_sqlite.replace("BEGIN IMMEDIATE;", "BEGIN;")
    rc1, out1, err1 = sh([SQLITE_CLI, sqlite_db], ".bail on\n" + writer_sqlite)
    print("$ tools/pg/sqlite-cli.sh natter.db")
    print(indent(writer_sqlite, "  | "), end="")
    print(indent(out1 + err1, "  > "), end="")
    rc2, out2, err2 = sh(["psql", "-X", "-At", "-F", "|", "-v", "ON_ERROR_STOP=1", db_url], writer_pg)
    print("$ psql   [BEGIN IMMEDIATE is SQLite's: BEGIN]")
    print(indent(writer_pg, "  | "), end="")
    print(indent(out2 + err2, "  > "), end="")
    rc3, out3, err3 = sh(["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", db_url], "BEGIN IMMEDIATE;\n")
    print("$ psql   [as in natter]")
    print(indent("BEGIN IMMEDIATE;", "  | "), end="")
    print(indent(out3 + err3, "  > "), end="")
    pg_rows = [r for r in out2.splitlines() if "|" in r]
    if rc1 == 0 and rc2 == 0 and rc3 != 0 and out1.splitlines() == pg_rows:
        print("Verdict: OK: SAVEPOINT job / RELEASE job / ROLLBACK TO job / COMMIT / ROLLBACK run unchanged; "
              "BEGIN IMMEDIATE is SQLite's (PostgreSQL: BEGIN)")
    else:
        print("Verdict: FAILED")
        failures.append("writer")
    print()

    # ------------------------------------------------------------ SQLite 3.40
    print("## The same SQL compiled by an older SQLite: Debian bookworm's own 3.40.1")
    print()
    print("Debian's sqlite3 with its own library. natter's schema needs FTS5 options newer than 3.40")
    print("(contentless_delete, 3.43; the trigram tokenizer's remove_diacritics, 3.45), so 0005 is")
    print("applied without them here (its tables exist, plainer). Each (a) statement and each")
    print("(b) rewrite is compiled with EXPLAIN (prepared, not run): it shows that the syntax the")
    print("rewrites use (RETURNING 3.35, ON CONFLICT 3.24, TRUE/FALSE 3.23, window functions 3.25)")
    print("holds on a SQLite older than the one natter bundles.")
    print()
    old_db = os.path.join(work, "natter-3.40.db")
    for f in migrations:
        text = open(os.path.join(CHECKOUT, "migrations", f)).read()
        if f.startswith("0005"):
            text = re.sub(r"\n\s*contentless_delete = 1,", "", text).replace("trigram remove_diacritics 1", "trigram")
        rc, out, err = sh(["sqlite3", old_db], text)
        if rc != 0:
            print(f"$ sqlite3 natter-3.40.db < migrations/{f} -> exit {rc}: {err.strip()}")
            failures.append("3.40 schema")
    rc, out, err = sh(["sqlite3", old_db], PROPOSED_0010 + "\n")
    print("$ sqlite3 natter-3.40.db < migrations/0001…0009 (0005 as said) and the proposed 0010 -> "
          + ("exit 0" if rc == 0 else f"exit {rc}: {err}"))
    print("$ sqlite3 natter-3.40.db 'SELECT sqlite_version()' -> " +
          sh(["sqlite3", old_db], "SELECT sqlite_version();\n")[1].strip())
    compiled = 0
    extra = [("changes::floor (0010)", "SELECT value FROM meta_integers WHERE key = ?1"),
             ("changes::prune (raise the floor) (0010)", FLOOR_UPSERT_PG),
             ("changes::latest (0010)", "SELECT COALESCE((SELECT MAX(id) FROM changes),\n"
                                        "(SELECT value FROM meta_integers WHERE key = 'changes_floor'), 0)"),
             ("backup::probe (0010)", "INSERT INTO meta_integers (key, value) VALUES ('ready_probe', ?1)\n"
                                      "ON CONFLICT (key) DO UPDATE SET value = excluded.value")]
    todo = [(c.name + f" ({c.cls})", c.sql) for c in C if c.cls in "ab" and not c.again] + extra
    for name, sql in todo:
        rc, out, err = sh(["sqlite3", old_db], "EXPLAIN " + sql + ";\n")
        if rc == 0 and not err.strip():
            compiled += 1
        else:
            print(f"$ sqlite3 natter-3.40.db 'EXPLAIN …'   {name}: FAILED: {err.strip()}")
            failures.append(name + " on 3.40")
    print(f"$ sqlite3 natter-3.40.db 'EXPLAIN <each>;'   -> {compiled} of {len(todo)} compiled "
          f"({sum(1 for c in C if c.cls == 'a' and not c.again)} (a), "
          f"{sum(1 for c in C if c.cls == 'b' and not c.again)} (b) rewrites, {len(extra)} statements on meta_integers)")
    print()

    print("## Summary")
    print(f"statements classified: {sum(counts.values())} — (a) {counts.get('a', 0)}, (b) {counts.get('b', 0)}, "
          f"(c) {counts.get('c', 0)}; cases run: {len(C)}")
    if failures:
        print("FAILED: " + ", ".join(failures))
        sys.exit(1)
    print("every case behaved as its class says")


PROPOSED_0010 = """-- natter schema, version 10: the integer settings get a table of their own,
-- as in PostgreSQL (meta.value is BLOB here, bytea there; bytea takes no
-- integer), so the statements on them are one SQL text for both engines.
CREATE TABLE meta_integers (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO meta_integers (key, value)
    SELECT key, CAST(value AS INTEGER) FROM meta WHERE key IN ('changes_floor', 'ready_probe');
DELETE FROM meta WHERE key IN ('changes_floor', 'ready_probe');"""

def tidy(sql):
    """The SQL as natter's source has it, its continuation lines re-indented."""
    lines = [line.strip() for line in sql.strip().splitlines()]
    return "\n".join([lines[0]] + ["    " + line for line in lines[1:]])


def markdown():
    """The classification, for tools/pg/portable.md (no database needed)."""
    first = [c for c in C if c.cls in "abc" and not c.again]
    mods = []
    for c in first:
        m = c.name.split("::")[0]
        if m not in mods:
            mods.append(m)
    mods.sort()

    def short(why):
        return why.replace(Q_QUAL, "`x.user` only†")
    n = {k: sum(1 for c in first if c.cls == k) for k in "abc"}
    print(f"<!-- generated by tools/pg/check-portable.py --markdown: {len(first)} statements, "
          f"(a) {n['a']}, (b) {n['b']}, (c) {n['c']} -->")
    print()
    print(f"### (a) Runs unchanged on both ({n['a']})")
    print()
    for m in mods:
        names = [c for c in first if c.cls == "a" and c.name.startswith(m + "::")]
        if not names:
            continue
        print(f"* `{m}.rs`: " + "; ".join(
            f"`{c.name.split('::', 1)[1]}`" + (f" ({short(c.why)})" if c.why else "") for c in names))
    print()
    print("† " + Q_QUAL + ". Quoting it there too does no harm and keeps one rule.")
    print()
    print(f"### (b) A small portable rewrite ({n['b']})")
    print()
    print("Each one below: why, then the SQL to use on both engines (it replaces natter's; the")
    print("transcript shows natter's text beside it, its failure on PostgreSQL and both runs).")
    print()
    for m in mods:
        cs = [c for c in first if c.cls == "b" and c.name.startswith(m + "::")]
        if not cs:
            continue
        print(f"#### `{m}.rs`")
        print()
        for c in cs:
            print(f"* **`{c.name.split('::', 1)[1]}`**: {c.why}")
            print()
            print("  ```sql")
            for line in tidy(c.sql).splitlines():
                print("  " + line)
            print("  ```")
            print()
    print(f"### (c) PostgreSQL needs its own body ({n['c']})")
    print()
    for c in first:
        if c.cls != "c":
            continue
        print(f"* **`{c.name}`**: {c.why}.")
        print()
        print("  natter (SQLite):")
        print()
        print("  ```sql")
        for line in tidy(c.src).splitlines():
            print("  " + line)
        print("  ```")
        print()
        if c.pg:
            print("  PostgreSQL:")
            print()
            print("  ```sql")
            for line in tidy(c.pg).splitlines():
                print("  " + line)
            print("  ```")
        else:
            print("  PostgreSQL: no body; the function has nothing to do there.")
        print()


if __name__ == "__main__":
    if "--markdown" in sys.argv:
        markdown()
    else:
        main()
