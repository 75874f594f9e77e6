#!/usr/bin/env bash
# Run the original Whisper CLI (seed 000's client, `whisper-chat` on PyPI)
# against a natter binary, as two new users would, and check what they see.
#
#   usage: tools/real-clients/whisper-cli.sh path/to/natter
#
# The CLI is installed from PyPI into target/real-clients/whisper/venv; its
# code never enters this repository. Each run uses a fresh database and a
# fresh HOME (the CLI keeps its tokens there). Exit 0 only if every step
# answered as the CLI expects and each user saw the other's public key.
set -euo pipefail
BIN="$(readlink -f "${1:?usage: whisper-cli.sh path/to/natter}")"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
WORK="$ROOT/target/real-clients/whisper"
VENV="$WORK/venv"
mkdir -p "$WORK"
if [ ! -x "$VENV/bin/whisper" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q whisper-chat==1.0.9
fi

tmp="$(mktemp -d)"
trap 'kill "$npid" 2>/dev/null || true; rm -rf "$tmp"' EXIT
mkdir -p "$tmp/home"
NATTER_REGISTRATION=open "$BIN" --db "$tmp/natter.db" --listen 127.0.0.1:0 >"$tmp/natter.out" 2>"$tmp/natter.err" &
npid=$!
for _ in $(seq 100); do grep -q '^listening on ' "$tmp/natter.out" 2>/dev/null && break; sleep 0.1; done
url="$(sed -n 's/^listening on //p' "$tmp/natter.out" | head -1)/"
[ "$url" != "/" ] || { echo "natter did not start:"; cat "$tmp/natter.err"; exit 1; }
echo "natter at $url"

failures=0
# step EXPECTED STDIN ARGS...: run the CLI, show its output, check it says EXPECTED.
step() {
  local expected="$1" input="$2"; shift 2
  local out
  out="$(cd "$tmp" && printf '%s\n' "$input" | env -u MODE HOME="$tmp/home" LIVE_URL="$url" "$VENV/bin/whisper" "$@" 2>&1)"
  printf '$ whisper %s\n%s\n' "$*" "$out"
  if grep -qF -- "$expected" <<<"$out"; then
    echo "  ok: says \"$expected\""
  else
    echo "  FAILED: expected \"$expected\""
    failures=$((failures + 1))
  fi
}

for u in alice bob; do step "Signup successful!" "" signup --username "$u" --password secret12; done
for u in alice bob; do step "Login Successful" "" login --username "$u" --password secret12; done
for u in alice bob; do step "BEGIN PUBLIC KEY" "" profile --username "$u"; done
for u in alice bob; do step "Ready to chat status updated." "Yes" ready_to_chat --username "$u"; done
# Each sees exactly one key: the other's, which natter made at sign-up.
for u in alice bob; do
  step "BEGIN PUBLIC KEY" "" active_users --username "$u"
  keys="$(cd "$tmp" && env -u MODE HOME="$tmp/home" LIVE_URL="$url" "$VENV/bin/whisper" active_users --username "$u" 2>&1 | grep -c 'BEGIN PUBLIC KEY' || true)"
  # The CLI prints the answer twice (a dict, then indented JSON).
  if [ "$keys" -ne 2 ]; then
    echo "  FAILED: $u should see one key (printed twice), saw $keys lines"
    failures=$((failures + 1))
  fi
done
if grep -q 'PRIVATE KEY' "$tmp/natter.err"; then
  echo "FAILED: a private key reached natter's log"
  failures=$((failures + 1))
fi
if [ "$failures" -ne 0 ]; then
  echo "whisper CLI: $failures step(s) failed"
  exit 1
fi
echo "whisper CLI: every step passed"
