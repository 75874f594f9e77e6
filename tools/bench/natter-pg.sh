#!/usr/bin/env bash
# natter on a fresh PostgreSQL database, for tools/bench/ab.sh: give ab.sh
# this script as a "binary"; it runs $NATTER_BIN with the same arguments,
# but with ab.sh's `--db <file>` replaced by a new database on the server
# at $NATTER_PG_URL (default: the one tools/pg/up.sh starts).
#
#   NATTER_BIN=target/release/natter tools/bench/ab.sh target/release/natter tools/bench/natter-pg.sh
set -euo pipefail
bin=${NATTER_BIN:-target/release/natter}
base=${NATTER_PG_URL:-postgres://natter:natter@127.0.0.1:5433/natter_test}
name=natter_bench_$(date +%s%N)
psql -X -q "$base" -c "CREATE DATABASE $name TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C.UTF-8'" >&2
args=()
while [ $# -gt 0 ]; do
  if [ "$1" = "--db" ]; then
    args+=(--db "${base%/*}/$name")
    shift 2
  else
    args+=("$1")
    shift
  fi
done
exec "$bin" "${args[@]}"
