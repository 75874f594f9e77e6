#!/usr/bin/env bash
# A throwaway PostgreSQL for natter's tests: starts (or reuses) a cluster on
# 127.0.0.1:5433 with a database `natter_test` owned by the user `natter`
# (password `natter`), and prints its URL on stdout, alone:
#
#   url=$(tools/pg/up.sh)    # postgres://natter:natter@127.0.0.1:5433/natter_test
#
# It installs nothing: Debian's `postgresql` package must be there
# (`apt-get install -y postgresql`; pg_trgm, unaccent and citext come with
# it). Run again, it reuses the running cluster, or starts the stopped one,
# and makes sure the user and the database exist. Progress goes to stderr.
#
# Environment:
#   NATTER_PG_DIR   where the cluster lives (default /tmp/natter-pg: data/,
#                   the log and the Unix socket)
#   NATTER_PG_PORT  the port (default 5433)
#   NATTER_PG_DB    the database (default natter_test)
#   NATTER_PG_OPTIONS  more server settings for a cluster this starts, e.g.
#                   "-c fsync=off -c synchronous_commit=off" for a test run
#                   whose cluster is thrown away (.ci/run does that)
#
# The user may create databases (a test can make a fresh one of its own).
# The cluster runs as the `postgres` system user when this runs as root
# (PostgreSQL refuses to run as root), else as the caller. Stop it with
#   pg_ctl -D "$NATTER_PG_DIR/data" stop      (as that user)
set -euo pipefail

dir=${NATTER_PG_DIR:-/tmp/natter-pg}
port=${NATTER_PG_PORT:-5433}
db=${NATTER_PG_DB:-natter_test}
user=natter
password=natter
data=$dir/data
log=$dir/postgres.log

say() { echo "up.sh: $*" >&2; }

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ] || [ ! -x "$bin/pg_ctl" ]; then
  say "no PostgreSQL server found under /usr/lib/postgresql/*/bin; install it: apt-get install -y postgresql"
  exit 1
fi

# Who runs the cluster.
if [ "$(id -u)" -eq 0 ]; then
  owner=postgres
  if ! id "$owner" >/dev/null 2>&1; then
    say "running as root, but there is no 'postgres' system user to run the cluster as"
    exit 1
  fi
  as_owner() { runuser -u "$owner" -- "$@"; }
else
  owner=$(id -un)
  as_owner() { "$@"; }
fi

mkdir -p "$dir"
if [ "$(id -u)" -eq 0 ]; then
  chown "$owner": "$dir"
fi
chmod 700 "$dir"

if [ ! -s "$data/PG_VERSION" ]; then
  say "creating a cluster in $data ($("$bin/postgres" --version))"
  # UTF8 with a UTF-8 ctype: lower(), citext and the text-search parser
  # then know non-ASCII letters (the schema's search folds with them).
  # Local (socket) connections: the cluster's owner by peer; TCP: passwords.
  as_owner "$bin/initdb" -D "$data" --encoding=UTF8 --locale=C.UTF-8 \
    --auth-local=peer --auth-host=scram-sha-256 -U "$owner" >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
fi

if as_owner "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
  say "reusing the cluster running in $data"
else
  say "starting the cluster in $data on 127.0.0.1:$port"
  if ! as_owner "$bin/pg_ctl" -D "$data" -l "$log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $dir ${NATTER_PG_OPTIONS:-}" start >/dev/null; then
    say "the cluster did not start; the end of $log:"
    tail -n 20 "$log" >&2 || true
    exit 1
  fi
fi

# The port it actually listens on (a reused cluster may have been started
# with another): the postmaster.pid's fourth line.
actual_port=$(sed -n 4p "$data/postmaster.pid")
if [ "$actual_port" != "$port" ]; then
  say "the cluster in $data listens on port $actual_port, not $port; stop it first: pg_ctl -D $data stop"
  exit 1
fi

psql_owner() {
  as_owner "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir" -p "$port" -U "$owner" -d postgres "$@"
}

# The user (its password set every time) and the database.
psql_owner >/dev/null <<SQL
SELECT format('CREATE ROLE %I LOGIN', '$user')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$user') \gexec
-- CREATEDB: tests may make a fresh database each (tools/pg/check-schema.sh does).
ALTER ROLE $user LOGIN CREATEDB PASSWORD '$password';
SELECT format('CREATE DATABASE %I OWNER %I TEMPLATE template0 ENCODING ''UTF8'' LOCALE ''C.UTF-8''', '$db', '$user')
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = '$db') \gexec
SQL

url="postgres://$user:$password@127.0.0.1:$port/$db"
# The URL works: a password login over TCP.
if ! PGCONNECT_TIMEOUT=10 "$bin/psql" -X -q -At "$url" -c 'SELECT 1' >/dev/null; then
  say "cannot log in as $user at $url"
  exit 1
fi
echo "$url"
