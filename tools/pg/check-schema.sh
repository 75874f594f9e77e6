#!/usr/bin/env bash
# Checks migrations/postgres/0001_initial.sql against a real PostgreSQL:
# starts (or reuses) the test cluster (tools/pg/up.sh), applies the schema
# to a fresh database twice (dropped and created each time) and compares
# the two results, runs tools/pg/sanity.sql on it, and shows that change
# ids commit in order when two writers race. Prints a transcript:
#
#   tools/pg/check-schema.sh | tee tools/pg/schema-check.txt
#
# Exits non-zero at the first thing that fails. Leaves the cluster running
# and the database `natter_schema_check` as the sanity statements left it.
set -euo pipefail
cd "$(dirname "$0")/../.."

migration=migrations/postgres/0001_initial.sql
check_db=natter_schema_check

url=$(tools/pg/up.sh)
base=${url%/*}
db_url=$base/$check_db
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

psql_q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
show() { printf '$ %s\n' "$*"; }

echo "# natter PostgreSQL schema check, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "# cluster: $url (from tools/pg/up.sh)"
psql_q -At "$url" -c 'SELECT version()'
psql_q -At "$url" -c "SELECT 'applied as ' || current_user || CASE WHEN rolsuper THEN ', a superuser' ELSE ', not a superuser' END FROM pg_roles WHERE rolname = current_user"
psql_q -At "$url" -c "SELECT 'encoding ' || pg_encoding_to_char(encoding) || ', ctype ' || datctype FROM pg_database WHERE datname = current_database()"
echo

for round in 1 2; do
  echo "## Round $round: a fresh database, the migration applied in one transaction"
  show psql "$base/postgres" -c "'DROP DATABASE IF EXISTS $check_db WITH (FORCE)'"
  show psql "$base/postgres" -c "\"CREATE DATABASE $check_db TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C.UTF-8'\""
  psql_q "$base/postgres" -c "DROP DATABASE IF EXISTS $check_db WITH (FORCE)" 2>&1 | grep -v '^NOTICE' || true
  psql_q "$base/postgres" -c "CREATE DATABASE $check_db TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C.UTF-8'"
  show psql -X -v ON_ERROR_STOP=1 --single-transaction -f $migration "$db_url"
  psql -X -v ON_ERROR_STOP=1 --single-transaction -f "$migration" "$db_url" >"$work/apply-$round.txt" 2>&1 \
    || { cat "$work/apply-$round.txt"; echo "FAILED: the migration did not apply"; exit 1; }
  echo "exit 0; $(wc -l <"$work/apply-$round.txt") lines of output:"
  sort "$work/apply-$round.txt" | uniq -c | sort -rn
  if grep -Eq 'ERROR|WARNING' "$work/apply-$round.txt"; then
    echo "FAILED: errors or warnings above"; exit 1
  fi
  # (pg_dump's \restrict lines carry a random key: left out.)
  pg_dump --schema-only --no-owner "$db_url" | grep -Ev '^\\(un)?restrict ' >"$work/schema-$round.sql"
  echo
done

echo "## The two rounds made the same schema"
show "pg_dump --schema-only --no-owner (round 1) | diff - (round 2)"
if diff "$work/schema-1.sql" "$work/schema-2.sql"; then
  echo "identical ($(grep -c '^CREATE' "$work/schema-1.sql") CREATE statements)"
else
  echo "FAILED: the two rounds differ"; exit 1
fi
echo

echo "## What it made"
psql_q "$db_url" -c '\dt' -c '\di' -c '\df natter*' -c '\d messages' -c '\d changes' -c '\ds'
echo

echo "## Sanity statements (tools/pg/sanity.sql)"
show psql -X -a -v ON_ERROR_STOP=1 -f tools/pg/sanity.sql "$db_url"
psql -X -a -v ON_ERROR_STOP=1 -f tools/pg/sanity.sql "$db_url" 2>&1
echo

echo "## A dump of it restores (functions, generated column, sequences)"
restore_db=natter_schema_restore
show "pg_dump --no-owner $db_url | psql -X -v ON_ERROR_STOP=1 --single-transaction $base/$restore_db"
psql_q "$base/postgres" -c "DROP DATABASE IF EXISTS $restore_db WITH (FORCE)" 2>&1 | grep -v '^NOTICE' || true
psql_q "$base/postgres" -c "CREATE DATABASE $restore_db TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C.UTF-8'"
pg_dump --no-owner "$db_url" >"$work/dump.sql"
psql -X -q -v ON_ERROR_STOP=1 --single-transaction -f "$work/dump.sql" "$base/$restore_db" >"$work/restore.txt" 2>&1 \
  || { cat "$work/restore.txt"; echo "FAILED: the dump did not restore"; exit 1; }
psql_q "$base/$restore_db" -c "SELECT id, body_folded, natter_words(body_folded) AS words FROM messages ORDER BY id" \
  -c "SELECT (SELECT last_value FROM changes_id_seq) AS changes_id_seq, (SELECT version FROM natter_schema) AS version"
psql_q "$base/postgres" -c "DROP DATABASE $restore_db"
echo

echo "## Change ids commit in order: two writers race"
echo "# A takes a change id and holds its transaction open for 2 s; B inserts a"
echo "# change 0.5 s later and must wait for A's commit (changes_in_order's"
echo "# advisory lock), so B's id is A's + 1 and becomes visible after it."
PGAPPNAME=writer-A psql -X -q -At -v ON_ERROR_STOP=1 "$db_url" >"$work/a.txt" 2>&1 <<'SQL' &
BEGIN;
INSERT INTO changes (conversation, kind, at) VALUES (9, 'room', 0)
  RETURNING 'A took id ' || id || ' at ' || to_char(clock_timestamp(), 'HH24:MI:SS.MS');
SELECT 'A sleeps 2 s, its transaction open' FROM pg_sleep(2);
SELECT 'A commits at ' || to_char(clock_timestamp(), 'HH24:MI:SS.MS');
COMMIT;
SQL
a_pid=$!
sleep 0.5
PGAPPNAME=writer-B psql -X -q -At -v ON_ERROR_STOP=1 "$db_url" >"$work/b.txt" 2>&1 <<'SQL' &
SELECT 'B inserts at ' || to_char(clock_timestamp(), 'HH24:MI:SS.MS');
INSERT INTO changes (conversation, kind, at) VALUES (9, 'room', 0)
  RETURNING 'B took id ' || id || ' at ' || to_char(clock_timestamp(), 'HH24:MI:SS.MS');
SQL
b_pid=$!
sleep 0.5
echo "# meanwhile, the advisory locks on changes' OID:"
psql_q "$db_url" -c "SELECT a.application_name AS session, l.granted, a.wait_event_type, a.wait_event
  FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
 WHERE l.locktype = 'advisory' AND l.objid = 'changes'::regclass::oid
 ORDER BY l.granted DESC"
wait "$a_pid" || { cat "$work/a.txt"; exit 1; }
wait "$b_pid" || { cat "$work/b.txt"; exit 1; }
cat "$work/a.txt" "$work/b.txt"
psql_q "$db_url" -c "SELECT id, kind FROM changes WHERE conversation = 9 ORDER BY id"
a_id=$(sed -n 's/^A took id \([0-9]*\).*/\1/p' "$work/a.txt")
b_id=$(sed -n 's/^B took id \([0-9]*\).*/\1/p' "$work/b.txt")
a_commit=$(sed -n 's/^A commits at //p' "$work/a.txt")
b_took=$(sed -n 's/^B took id [0-9]* at //p' "$work/b.txt")
if [ "$b_id" -ne $((a_id + 1)) ] || [[ ! "$b_took" > "$a_commit" ]]; then
  echo "FAILED: B (id $b_id at $b_took) did not wait for A (id $a_id, committed at $a_commit)"; exit 1
fi
echo "B's id $b_id follows A's $a_id, and B got it after A committed ($b_took > $a_commit)"
echo
echo "schema check passed"
