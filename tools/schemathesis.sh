#!/usr/bin/env bash
# Property-based tests of the native API against its own OpenAPI document,
# with schemathesis (from PyPI, into target/schemathesis-venv on first use).
#
#   tools/schemathesis.sh [path/to/natter]     (default: target/debug/natter)
#
# Starts natter on a temporary database, registers a user, and lets
# schemathesis call every operation in /api/openapi.json with generated
# input and that user's token, checking every answer against the document:
# no 5xx, status codes, content types, headers and bodies as documented.
# MAX_EXAMPLES (default 25) sets how many inputs per operation.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/debug/natter}
venv=target/schemathesis-venv
if [ ! -x "$venv/bin/schemathesis" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "schemathesis>=4,<5"
fi

dir=$(mktemp -d)
cleanup() {
  [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
# Generous limits: schemathesis sends many requests quickly, and the rate
# limits have their own tests. An AI backend that is not there (nothing
# listens on port 9): AI conversations are enabled, and fail politely.
"$bin" --db "$dir/natter.db" --listen 127.0.0.1:0 --send-rate 0 --ai-requests-per-minute 0 --registration open \
  --signups-per-hour 0 --uploads-per-minute 0 --login-failures-per-address 0 \
  --ai-url http://127.0.0.1:9/v1 --log warn >"$dir/out" 2>"$dir/log" &
pid=$!
for _ in $(seq 200); do
  grep -q '^listening on ' "$dir/out" 2>/dev/null && break
  sleep 0.05
done
base=$(sed -n 's/^listening on //p' "$dir/out")
[ -n "$base" ] || { echo "natter did not start:"; cat "$dir/log"; exit 1; }
token=$(python3 - "$base" <<'PY'
import json, sys, urllib.request
req = urllib.request.Request(
    sys.argv[1] + "/api/auth/register",
    data=json.dumps({"username": "schemathesis", "password": "password1"}).encode(),
    headers={"content-type": "application/json"},
)
print(json.load(urllib.request.urlopen(req))["access_token"])
PY
)

# Two checks are left out. The document describes what is always accepted;
# natter is more lenient on purpose (unknown fields are ignored, a blank
# optional field counts as absent, lengths are limited in bytes, which the
# document states as the characters that always fit), so a request outside
# the document may still be accepted (negative_data_rejection). And the
# links schemathesis guesses between operations (a message id from one
# conversation used as a read mark in another) are not links of this API
# (ensure_resource_availability).
status=0
"$venv/bin/schemathesis" --config-file tools/schemathesis.toml run "$base/api/openapi.json" \
  --url "$base" \
  --header "Authorization: Bearer $token" \
  --checks all \
  --exclude-checks negative_data_rejection,ensure_resource_availability \
  --max-examples "${MAX_EXAMPLES:-25}" \
  --seed "${SEED:-1}" \
  --no-color || status=$?
if [ "$status" -ne 0 ]; then
  echo "--- natter's log ---"
  tail -50 "$dir/log"
fi
exit "$status"
