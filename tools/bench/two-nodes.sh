#!/usr/bin/env bash
# two-nodes.sh — the fan-out yardstick (../shared/bench/README.md) against two natter
# nodes on one PostgreSQL database with `--bus postgres`, every room's sockets split
# between the nodes (even users on node A, odd on node B), so every delivery to an odd
# user of a message an even user sent crosses the bus, and the other way round.
#
# usage: NATTER_BIN=target/release/natter tools/bench/two-nodes.sh
#
# Per shape and pair: two nodes (split), one node with the bus (all on A), then bare, in
# the same run; figures are delivered_per_s, loadgen's lost / duplicated / reordered
# counts (it reads every delivery) and p99 send→deliver latency. The nodes' CPU seconds
# are read from /proc around each run.
#
# Knobs: PAIRS=3, SETTLE=3, NATTER_PG_URL (default: tools/pg/up.sh's server), OUT, LG,
# BARE, SHARED, SHAPES (as in ab.sh).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$ROOT/target/bench
mkdir -p "$HERE"
SHARED=${SHARED:-$(cd "$ROOT/../shared/bench" 2>/dev/null && pwd || echo "$ROOT/../shared/bench")}
BIN=${NATTER_BIN:-$ROOT/target/release/natter}
PAIRS=${PAIRS:-3}
SETTLE=${SETTLE:-3}
SHAPES=${SHAPES:---rooms 1 --users-per-room 10 --messages 2000|--rooms 10 --users-per-room 10 --messages 500}
OUT=${OUT:-$HERE/results/two-nodes-$(date +%Y%m%d-%H%M%S)}
LG=${LG:-$HERE/target-loadgen/release/loadgen}
BARE=${BARE:-$HERE/target-bare/release/bare}
PGBASE=${NATTER_PG_URL:-postgres://natter:natter@127.0.0.1:5433/natter_test}
NUSERS=100
ROOMSZ=10

[ -x "$BIN" ] || { echo "not an executable: $BIN (set NATTER_BIN)" >&2; exit 2; }
command -v jq >/dev/null || { echo "jq is needed" >&2; exit 2; }
command -v psql >/dev/null || { echo "psql is needed" >&2; exit 2; }
if [ ! -x "$LG" ]; then (cd "$SHARED/loadgen" && CARGO_TARGET_DIR="$HERE/target-loadgen" cargo build --release); fi
if [ ! -x "$BARE" ]; then (cd "$SHARED/bare" && CARGO_TARGET_DIR="$HERE/target-bare" cargo build --release); fi

mkdir -p "$OUT"
LOG="$OUT/log.txt"
RUNS="$OUT/runs.jsonl"
: > "$RUNS"
log() { echo "[$(date +%H:%M:%S)] $*" | tee -a "$LOG" >&2; }

PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 1
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_port() {
  local f=$1 pid=$2 port=""
  for _ in $(seq 300); do
    port=$(sed -n 's/^listening on \(http:\/\/\)\{0,1\}[0-9.]*:\([0-9]*\).*/\2/p' "$f" | head -1)
    [ -n "$port" ] && { echo "$port"; return 0; }
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "server did not start (see $f)" >&2
  return 1
}

cpu_secs() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/stat"; }

log "uptime at start: $(uptime)"
name=natter_bench_$(date +%s%N)
psql -X -q "$PGBASE" -c "CREATE DATABASE $name TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C.UTF-8'"
DB="${PGBASE%/*}/$name"

"$BARE" 127.0.0.1:0 > "$OUT/bare.out" 2> "$OUT/bare.err" &
BARE_PID=$!; PIDS+=("$BARE_PID")
BARE_PORT=$(wait_port "$OUT/bare.out" "$BARE_PID")

start_node() {
  local i=$1
  NATTER_REGISTRATION=open NATTER_SIGNUPS_PER_HOUR=0 NATTER_HASHES_PER_ADDRESS=0 \
  NATTER_CONNECTIONS_PER_ADDRESS=0 NATTER_SOCKETS_PER_USER=0 NATTER_LOGIN_FAILURES_PER_ADDRESS=0 \
  "$BIN" --db "$DB" --bus postgres --listen 127.0.0.1:0 --argon2-memory-kib 8 --argon2-iterations 1 \
      --access-ttl 24h --log warn --send-rate 0 > "$OUT/node-$i.out" 2> "$OUT/node-$i.err" &
  echo $!
}
A_PID=$(start_node a); PIDS+=("$A_PID")
A_PORT=$(wait_port "$OUT/node-a.out" "$A_PID")
B_PID=$(start_node b); PIDS+=("$B_PID")
B_PORT=$(wait_port "$OUT/node-b.out" "$B_PID")
log "node A pid $A_PID port $A_PORT; node B pid $B_PID port $B_PORT; db ${DB%%:*}://…/$name"

base="http://127.0.0.1:$A_PORT"
d=$OUT
: > "$d/register.jsonl"
for u in $(seq 0 $((NUSERS - 1))); do
  curl -fsS -X POST -H 'content-type: application/json' \
    -d "{\"username\":\"bench$(printf %03d "$u")\",\"password\":\"bench-password\"}" \
    "$base/api/auth/register" >> "$d/register.jsonl"
  echo >> "$d/register.jsonl"
done
jq -sr '.[] | .access_token // error("register: \(.)")' "$d/register.jsonl" > "$d/tokens.txt"
jq -sr '.[] | .user_id // error("register: \(.)")' "$d/register.jsonl" > "$d/ids.txt"
mapfile -t TOK < "$d/tokens.txt"
mapfile -t UID_ < "$d/ids.txt"
: > "$d/rooms.jsonl"
for r in $(seq 0 $((NUSERS / ROOMSZ - 1))); do
  ids=$(printf '"%s",' "${UID_[@]:$((r * ROOMSZ)):$ROOMSZ}")
  curl -fsS -X POST -H 'content-type: application/json' -H "authorization: Bearer ${TOK[$((r * ROOMSZ))]}" \
    -d "{\"name\":\"bench-room-$r\",\"kind\":\"room\",\"participant_ids\":[${ids%,}]}" \
    "$base/api/conversations" >> "$d/rooms.jsonl"
  echo >> "$d/rooms.jsonl"
done
jq -sc '.[] | .conversation_id // error("room: \(.)")' "$d/rooms.jsonl" > "$d/rooms.txt"
# The "token" lines carry each client's node: loadgen's URL template is ws://{token}.
: > "$d/split.txt"; : > "$d/one.txt"
for u in $(seq 0 $((NUSERS - 1))); do
  port=$A_PORT; [ $((u % 2)) = 1 ] && port=$B_PORT
  echo "127.0.0.1:$port/api/ws?token=${TOK[$u]}" >> "$d/split.txt"
  echo "127.0.0.1:$A_PORT/api/ws?token=${TOK[$u]}" >> "$d/one.txt"
done

COMMON="--threads 2 --duration-limit 120 --connect-timeout 10 --drain-timeout 5 --window 10"
SEND='{"action":"send","conversation_id":{room_id},"message":"{body}"}'
run() {
  local kind=$1 pair=$2 sidx=$3 shape=$4; shift 4
  local tag="s$sidx-p$pair-$kind"
  sleep "$SETTLE"
  local a0 b0 a1 b1
  a0=$(cpu_secs "$A_PID"); b0=$(cpu_secs "$B_PID")
  # shellcheck disable=SC2086
  "$LG" $COMMON $shape --label "$tag" "$@" > "$OUT/$tag.json" 2> "$OUT/$tag.err" || true
  a1=$(cpu_secs "$A_PID"); b1=$(cpu_secs "$B_PID")
  local line; line=$(tail -n 1 "$OUT/$tag.json"); jq -e . >/dev/null 2>&1 <<<"$line" || line='{}'
  jq -c --arg kind "$kind" --argjson pair "$pair" --argjson sidx "$sidx" --arg shape "$shape" \
     --argjson cpu_a "$(awk -v x="$a0" -v y="$a1" 'BEGIN{print y-x}')" \
     --argjson cpu_b "$(awk -v x="$b0" -v y="$b1" 'BEGIN{print y-x}')" \
     '. + {kind: $kind, pair: $pair, sidx: $sidx, shape: $shape, node_a_cpu_s: $cpu_a, node_b_cpu_s: $cpu_b}' \
     <<<"$line" >> "$RUNS"
  log "$tag: $(jq -r '"\(.delivered_per_s // "?") deliveries/s, missing \(.deliveries_missing // "?"), dup \(.duplicates // "?"), ooo \(.out_of_order // "?"), p99 \(.latency_ms.p99 // "?") ms"' <<<"$line") (cpu A $(awk -v x="$a0" -v y="$a1" 'BEGIN{print y-x}') s, B $(awk -v x="$b0" -v y="$b1" 'BEGIN{print y-x}') s)"
}

IFS='|' read -r -a SHAPE_LIST <<<"$SHAPES"
sidx=0
for shape in "${SHAPE_LIST[@]}"; do
  for pair in $(seq 1 "$PAIRS"); do
    run two-nodes "$pair" "$sidx" "$shape" --url-template "ws://{token}" --tokens "$d/split.txt" \
      --rooms-file "$d/rooms.txt" --send-template "$SEND" --recv-field /message/message --server-pid "$A_PID"
    run one-node "$pair" "$sidx" "$shape" --url-template "ws://{token}" --tokens "$d/one.txt" \
      --rooms-file "$d/rooms.txt" --send-template "$SEND" --recv-field /message/message --server-pid "$A_PID"
    run bare "$pair" "$sidx" "$shape" --url-template "ws://127.0.0.1:$BARE_PORT/ws/{room}/{user}" \
      --rooms-file "$d/rooms.txt" --send-template "$SEND" --recv-field /message --server-pid "$BARE_PID"
  done
  sidx=$((sidx + 1))
done
for p in "$A_PID" "$B_PID"; do kill -0 "$p" 2>/dev/null || log "WARNING: node pid $p died during the run"; done
log "uptime at end: $(uptime)"

python3 - "$RUNS" <<'PY' | tee "$OUT/summary.txt"
import json, sys, statistics as st
runs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
for sidx in sorted({r["sidx"] for r in runs}):
    rs = [r for r in runs if r["sidx"] == sidx]
    print(rs[0]["shape"])
    for kind in ("two-nodes", "one-node", "bare"):
        k = [r for r in rs if r["kind"] == kind]
        if not k:
            continue
        d = [r.get("delivered_per_s", 0) for r in k]
        p99 = [r.get("latency_ms", {}).get("p99", 0) for r in k]
        lost = sum(r.get("deliveries_missing", 0) for r in k)
        dup = sum(r.get("duplicates", 0) for r in k)
        ooo = sum(r.get("out_of_order", 0) for r in k)
        cpu = [r["node_a_cpu_s"] + r["node_b_cpu_s"] for r in k]
        print(f"  {kind:10} deliveries/s median {st.median(d):>9.0f} (runs {', '.join(f'{x:.0f}' for x in d)})"
              f"  p99 ms median {st.median(p99):.1f}  lost {lost} dup {dup} reordered {ooo}"
              + ("" if kind == "bare" else f"  nodes' CPU s median {st.median(cpu):.1f}"))
PY
