#!/usr/bin/env bash
# The sqlite3 command-line shell over the SQLite natter actually runs: the
# amalgamation that rusqlite bundles (libsqlite3-sys, `bundled` feature),
# built once as a shared library with the crate's compile options.
#
#   tools/pg/sqlite-cli.sh natter.db < script.sql      # as `sqlite3 natter.db`
#   tools/pg/sqlite-cli.sh --version
#
# Why not Debian's sqlite3 as it is: bookworm's is 3.40.1, whose FTS5 has
# no `contentless_delete` (3.43+), so natter's migration 0005 cannot be
# applied with it. Debian's CLI binary is used (apt-get install -y sqlite3),
# loaded with the newer library instead of its own; its start-up check that
# the library's source id is the one it was compiled with is answered by a
# one-function LD_PRELOAD shim (sqlite_version() still says 3.53.2).
#
# Needs gcc and the crate's source in ~/.cargo/registry (any `cargo fetch`
# or build of natter puts it there; NATTER_LIBSQLITE3_SYS names another
# version of the crate). The build (~1.5 min) is kept in
# $NATTER_SQLITE_DIR (default /tmp/natter-sqlite-<version>).
set -euo pipefail

# The libsqlite3-sys natter's Cargo.lock names (0.38.2: SQLite 3.53.2).
sys_version=${NATTER_LIBSQLITE3_SYS:-0.38.2}
crate=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/libsqlite3-sys-"$sys_version" 2>/dev/null | head -n 1 || true)
if [ -z "$crate" ] || [ ! -f "$crate/sqlite3/sqlite3.c" ]; then
  echo "sqlite-cli.sh: libsqlite3-sys $sys_version's source is not in ~/.cargo/registry (run cargo fetch in natter)" >&2
  exit 1
fi
if ! command -v sqlite3 >/dev/null; then
  echo "sqlite-cli.sh: no sqlite3 CLI; apt-get install -y sqlite3" >&2
  exit 1
fi
version=$(sed -n 's/^#define SQLITE_VERSION  *"\(.*\)"/\1/p' "$crate/sqlite3/sqlite3.h")
dir=${NATTER_SQLITE_DIR:-/tmp/natter-sqlite-$version}
lib=$dir/libsqlite3.so.0
shim=$dir/cli-sourceid-shim.so

if [ ! -f "$lib" ] || [ ! -f "$shim" ]; then
  mkdir -p "$dir"
  echo "sqlite-cli.sh: building SQLite $version from $crate/sqlite3/sqlite3.c into $dir" >&2
  # libsqlite3-sys's build.rs options (bundled), plus the session extension
  # and pre-update hook that Debian's CLI binary links against.
  gcc -O1 -fPIC -shared -Wl,-soname,libsqlite3.so.0 \
    -DSQLITE_DEFAULT_FOREIGN_KEYS=1 -DSQLITE_ENABLE_API_ARMOR -DSQLITE_ENABLE_COLUMN_METADATA \
    -DSQLITE_ENABLE_DBSTAT_VTAB -DSQLITE_ENABLE_FTS3 -DSQLITE_ENABLE_FTS3_PARENTHESIS \
    -DSQLITE_ENABLE_FTS5 -DSQLITE_ENABLE_JSON1 -DSQLITE_ENABLE_LOAD_EXTENSION=1 \
    -DSQLITE_ENABLE_MEMORY_MANAGEMENT -DSQLITE_ENABLE_RTREE -DSQLITE_ENABLE_STAT4 \
    -DSQLITE_SOUNDEX -DSQLITE_THREADSAFE=1 -DSQLITE_USE_URI \
    -DSQLITE_ENABLE_SESSION -DSQLITE_ENABLE_PREUPDATE_HOOK \
    -o "$lib.tmp" "$crate/sqlite3/sqlite3.c" -lm -ldl -lpthread
  mv "$lib.tmp" "$lib"
  # The CLI compares the first 60 characters of sqlite3_sourceid() with the
  # id it was compiled with; answer with that id.
  cli_id=$(sqlite3 :memory: 'SELECT sqlite_source_id()')
  printf 'const char *sqlite3_sourceid(void) { return "%s"; }\n' "$cli_id" >"$dir/cli-sourceid-shim.c"
  gcc -O2 -fPIC -shared -o "$shim" "$dir/cli-sourceid-shim.c"
fi

LD_LIBRARY_PATH=$dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} LD_PRELOAD=$shim exec sqlite3 "$@"
