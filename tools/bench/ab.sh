#!/usr/bin/env bash
# ab.sh — A/B harness for natter's fan-out yardstick (../shared/bench/README.md:
# a bare warp broadcast server and a load client that knows neither server).
#
# usage: ab.sh NATTER_BIN [NATTER_BIN ...]
#   e.g. tools/bench/ab.sh /tmp/natter-before target/release/natter
#
# For each binary: start it with `--sync full` and its limits off on a fresh temp database,
# register 100 users, make 10 rooms of 10, write tokens.txt / rooms.txt (README step 1).
# Start one bare server (step 2). Then, for each shape, PAIRS rounds; in each round every
# binary in turn runs natter then bare (step 3), so two binaries run
#   A bare B bare | A bare B bare | A bare B bare
# Each natter run is paired with the bare run right after it; the figure is the median of the
# per-pair ratios natter/bare of delivered_per_s. All servers are stopped on exit.
#
# Knobs (environment):
#   PAIRS=3                       pairs per binary and shape
#   NATTER_EXTRA="--send-rate 0"  extra natter flags (limits/quotas off); appended after the fixed
#                                 ones: --sync full --argon2-memory-kib 8 --argon2-iterations 1
#                                 --access-ttl 24h --log warn
#   SHAPES                        shapes, separated by '|'; default is the README's two
#   SETTLE=1                      seconds of sleep before each loadgen run
#   OUT=target/bench/results/<timestamp>   where logs, runs.jsonl and summary.txt go
#   SHARED=../shared/bench        where the yardstick's sources are
#   LG, BARE                      loadgen / bare binaries (built here if missing)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$ROOT/target/bench
mkdir -p "$HERE"
SHARED=${SHARED:-$(cd "$ROOT/../shared/bench" 2>/dev/null && pwd || echo "$ROOT/../shared/bench")}
PAIRS=${PAIRS:-3}
NATTER_EXTRA=${NATTER_EXTRA:---send-rate 0}
SHAPES=${SHAPES:---rooms 1 --users-per-room 10 --messages 2000|--rooms 10 --users-per-room 10 --messages 500}
SETTLE=${SETTLE:-1}
OUT=${OUT:-$HERE/results/$(date +%Y%m%d-%H%M%S)}
LG=${LG:-$HERE/target-loadgen/release/loadgen}
BARE=${BARE:-$HERE/target-bare/release/bare}
NUSERS=100
ROOMSZ=10

[ $# -ge 1 ] || { sed -n '2,/^set -e/p' "$0" | sed 's/^# \{0,1\}//; /^set -e/d'; exit 2; }
for b in "$@"; do [ -x "$b" ] || { echo "not an executable: $b" >&2; exit 2; }; done
command -v jq >/dev/null || { echo "jq is needed" >&2; exit 2; }
command -v python3 >/dev/null || { echo "python3 is needed" >&2; exit 2; }

if [ ! -x "$LG" ]; then
  (cd "$SHARED/loadgen" && CARGO_TARGET_DIR="$HERE/target-loadgen" cargo build --release)
fi
if [ ! -x "$BARE" ]; then
  (cd "$SHARED/bare" && CARGO_TARGET_DIR="$HERE/target-bare" cargo build --release)
fi

mkdir -p "$OUT"
LOG="$OUT/log.txt"
RUNS="$OUT/runs.jsonl"
: > "$RUNS"
log() { echo "[$(date +%H:%M:%S)] $*" | tee -a "$LOG" >&2; }

PIDS=()
TMPDIRS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do
    if kill -0 "$p" 2>/dev/null; then kill "$p" 2>/dev/null || true; fi
  done
  for p in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$p" 2>/dev/null; then kill -9 "$p" 2>/dev/null || true; fi
  done
  for p in "${TMPDIRS[@]}"; do rm -rf "$p"; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_port FILE -> prints the port of the first "listening on ...:PORT" line
wait_port() {
  local f=$1 pid=$2 port=""
  for _ in $(seq 300); do
    port=$(sed -n 's/^listening on \(http:\/\/\)\{0,1\}[0-9.]*:\([0-9]*\).*/\2/p' "$f" | head -1)
    [ -n "$port" ] && { echo "$port"; return 0; }
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "server did not start (see $f and ${f%.out}.err)" >&2
  return 1
}

START_UPTIME=$(uptime)
T_START=$(date +%s)
log "uptime at start: $START_UPTIME"
log "out: $OUT"

# ---------------------------------------------------------------- bare (README step 2)
"$BARE" 127.0.0.1:0 > "$OUT/bare.out" 2> "$OUT/bare.err" &
BARE_PID=$!
PIDS+=("$BARE_PID")
BARE_PORT=$(wait_port "$OUT/bare.out" "$BARE_PID")
log "bare pid $BARE_PID port $BARE_PORT"

# ---------------------------------------------------------------- natter servers (README step 1)
LABELS=()
NPIDS=()
NPORTS=()
NDIRS=()
i=0
for bin in "$@"; do
  label=$(basename "$bin")
  for l in "${LABELS[@]}"; do [ "$l" = "$label" ] && label="$label#$i"; done
  d=$(mktemp -d /tmp/ab-natter-XXXXXX)
  TMPDIRS+=("$d")
  # Open sign-up through the environment: an older natter without the
  # flag ignores it.
  # shellcheck disable=SC2086
  NATTER_REGISTRATION=open NATTER_SIGNUPS_PER_HOUR=0 NATTER_HASHES_PER_ADDRESS=0 \
  NATTER_CONNECTIONS_PER_ADDRESS=0 NATTER_SOCKETS_PER_USER=0 NATTER_LOGIN_FAILURES_PER_ADDRESS=0 \
  "$bin" --db "$d/natter.db" --listen 127.0.0.1:0 --sync full \
      --argon2-memory-kib 8 --argon2-iterations 1 --access-ttl 24h --log warn $NATTER_EXTRA \
      > "$OUT/natter-$i.out" 2> "$OUT/natter-$i.err" &
  pid=$!
  PIDS+=("$pid")
  port=$(wait_port "$OUT/natter-$i.out" "$pid")
  base="http://127.0.0.1:$port"
  for _ in $(seq 100); do curl -fs "$base/api/health" >/dev/null && break; sleep 0.05; done
  log "$label: pid $pid port $port db $d/natter.db flags: --sync full --argon2-memory-kib 8 --argon2-iterations 1 --access-ttl 24h --log warn $NATTER_EXTRA"

  # 100 users, in room order: user u is in room u/10
  : > "$d/register.jsonl"
  t0=$(date +%s.%N)
  for u in $(seq 0 $((NUSERS - 1))); do
    curl -fsS -X POST -H 'content-type: application/json' \
      -d "{\"username\":\"bench$(printf %03d "$u")\",\"password\":\"bench-password\"}" \
      "$base/api/auth/register" >> "$d/register.jsonl" || { echo "register $u failed" >&2; exit 1; }
    echo >> "$d/register.jsonl"
  done
  # one jq pass (a jq start costs ~40 ms here); every answer must have both fields
  jq -sr '.[] | .access_token // error("register: \(.)")' "$d/register.jsonl" > "$d/tokens.txt"
  jq -sr '.[] | .user_id // error("register: \(.)")' "$d/register.jsonl" > "$d/ids.txt"
  [ "$(wc -l < "$d/tokens.txt")" = "$NUSERS" ] || { echo "registration: $(wc -l < "$d/tokens.txt") tokens" >&2; exit 1; }
  mapfile -t TOK < "$d/tokens.txt"
  mapfile -t UID_ < "$d/ids.txt"
  : > "$d/rooms.jsonl"
  for r in $(seq 0 $((NUSERS / ROOMSZ - 1))); do
    ids=$(printf '"%s",' "${UID_[@]:$((r * ROOMSZ)):$ROOMSZ}")
    curl -fsS -X POST -H 'content-type: application/json' \
      -H "authorization: Bearer ${TOK[$((r * ROOMSZ))]}" \
      -d "{\"name\":\"bench-room-$r\",\"kind\":\"room\",\"participant_ids\":[${ids%,}]}" \
      "$base/api/conversations" >> "$d/rooms.jsonl" || { echo "room $r failed" >&2; exit 1; }
    echo >> "$d/rooms.jsonl"
  done
  # every room must hold its 10 users; rooms.txt: the conversation_id as a JSON string per line
  jq -se --argjson n "$ROOMSZ" 'length > 0 and all(.[]; (.participants | length) == $n)' "$d/rooms.jsonl" > /dev/null \
    || { echo "a room does not have $ROOMSZ participants: $d/rooms.jsonl" >&2; exit 1; }
  jq -sc '.[] | .conversation_id // error("room: \(.)")' "$d/rooms.jsonl" > "$d/rooms.txt"
  t1=$(date +%s.%N)
  cp "$d/tokens.txt" "$OUT/tokens-$i.txt"; cp "$d/rooms.txt" "$OUT/rooms-$i.txt"
  log "$label: $NUSERS users, $((NUSERS / ROOMSZ)) rooms of $ROOMSZ in $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}') s"
  LABELS+=("$label"); NPIDS+=("$pid"); NPORTS+=("$port"); NDIRS+=("$d")
  i=$((i + 1))
done

# ---------------------------------------------------------------- runs (README step 3)
COMMON="--threads 2 --duration-limit 120 --connect-timeout 10 --drain-timeout 5 --window 10"
SEND='{"action":"send","conversation_id":{room_id},"message":"{body}"}'

# run_lg NAME KIND PAIR SHAPE_IDX SHAPE -- loadgen args...
run_lg() {
  local name=$1 kind=$2 pair=$3 sidx=$4 shape=$5; shift 5
  local tag="s${sidx}-p${pair}-${kind}-${name//[^A-Za-z0-9_.-]/_}"
  sleep "$SETTLE"
  local rc=0
  # shellcheck disable=SC2086
  "$LG" $COMMON $shape --label "$tag" "$@" > "$OUT/$tag.json" 2> "$OUT/$tag.err" || rc=$?
  local line
  line=$(tail -n 1 "$OUT/$tag.json")
  if ! jq -e . >/dev/null 2>&1 <<<"$line"; then
    log "$tag: loadgen rc=$rc, no JSON (see $OUT/$tag.err)"; line='{}'
  fi
  jq -c --arg bin "$name" --arg kind "$kind" --argjson pair "$pair" --argjson sidx "$sidx" \
     --arg shape "$shape" --argjson rc "$rc" \
     '. + {ab_bin: $bin, ab_kind: $kind, ab_pair: $pair, ab_shape_idx: $sidx, ab_shape: $shape, ab_rc: $rc}' \
     <<<"$line" >> "$RUNS"
  log "$tag: $(jq -r '"\(.delivered_per_s // "?") deliveries/s, missing \(.deliveries_missing // "?"), dup \(.duplicates // "?"), ooo \(.out_of_order // "?"), p99 \(.latency_ms.p99 // "?") ms"' <<<"$line")"
}

IFS='|' read -r -a SHAPE_LIST <<<"$SHAPES"
sidx=0
for shape in "${SHAPE_LIST[@]}"; do
  for pair in $(seq 1 "$PAIRS"); do
    for j in "${!LABELS[@]}"; do
      d=${NDIRS[$j]}
      run_lg "${LABELS[$j]}" natter "$pair" "$sidx" "$shape" \
        --url-template "ws://127.0.0.1:${NPORTS[$j]}/api/ws?token={token}" --tokens "$d/tokens.txt" \
        --rooms-file "$d/rooms.txt" --send-template "$SEND" --recv-field /message/message \
        --server-pid "${NPIDS[$j]}"
      run_lg "${LABELS[$j]}" bare "$pair" "$sidx" "$shape" \
        --url-template "ws://127.0.0.1:$BARE_PORT/ws/{room}/{user}" \
        --rooms-file "$d/rooms.txt" --send-template "$SEND" --recv-field /message \
        --server-pid "$BARE_PID"
    done
  done
  sidx=$((sidx + 1))
done

for j in "${!LABELS[@]}"; do
  kill -0 "${NPIDS[$j]}" 2>/dev/null || log "WARNING: ${LABELS[$j]} (pid ${NPIDS[$j]}) died during the run"
done
kill -0 "$BARE_PID" 2>/dev/null || log "WARNING: bare died during the run"

END_UPTIME=$(uptime)
T_END=$(date +%s)
log "uptime at end: $END_UPTIME"

# ---------------------------------------------------------------- summary
python3 - "$RUNS" "$START_UPTIME" "$END_UPTIME" "$((T_END - T_START))" "$PAIRS" "$NATTER_EXTRA" <<'PY' | tee "$OUT/summary.txt"
import json, sys, statistics as st
runs_path, up0, up1, secs, pairs, extra = sys.argv[1:7]
runs = [json.loads(l) for l in open(runs_path) if l.strip()]

def med(xs):
    xs = [x for x in xs if x is not None]
    return st.median(xs) if xs else None

def k(x):
    return "-" if x is None else f"{x/1000:.0f}k"

def f(x, d=2):
    return "-" if x is None else f"{x:.{d}f}"

def mb(kb):
    return "-" if kb is None else f"{kb/1024:.1f}"

def lost(r):
    return r.get("deliveries_missing")

shapes = sorted({(r["ab_shape_idx"], r["ab_shape"]) for r in runs})
bins = list(dict.fromkeys(r["ab_bin"] for r in runs))

print()
print(f"natter flags: --sync full --argon2-memory-kib 8 --argon2-iterations 1 --access-ttl 24h --log warn {extra}")
print(f"pairs per binary and shape: {pairs}; wall time {secs} s")
print(f"load before: {up0.strip()}")
print(f"load after:  {up1.strip()}")

print("\nEvery run (in order; ratio = this natter run / the bare run right after it)")
hdr = ("shape", "pair", "binary", "server", "deliv/s", "ratio", "lost", "dup", "reord", "xroom",
       "p50 ms", "p99 ms", "max ms", "srv cpu s", "lg cpu s", "RSS MB aft", "errors")
rows = []
for (si, shape) in shapes:
    for r in [r for r in runs if r["ab_shape_idx"] == si]:
        ratio = ""
        if r["ab_kind"] == "natter":
            b = [x for x in runs if x["ab_shape_idx"] == si and x["ab_pair"] == r["ab_pair"]
                 and x["ab_bin"] == r["ab_bin"] and x["ab_kind"] == "bare"]
            if b and b[0].get("delivered_per_s") and r.get("delivered_per_s") is not None:
                ratio = f(r["delivered_per_s"] / b[0]["delivered_per_s"])
        lat = r.get("latency_ms") or {}
        err = r.get("errors_total")
        if r.get("timed_out"): err = f"{err} TIMEOUT"
        if r.get("ab_rc"): err = f"{err} rc={r['ab_rc']}"
        rows.append((f"S{si+1}", str(r["ab_pair"]), r["ab_bin"], r["ab_kind"], k(r.get("delivered_per_s")),
                     ratio, str(lost(r)), str(r.get("duplicates")), str(r.get("out_of_order")),
                     str(r.get("cross_room")), f(lat.get("p50")), f(lat.get("p99")), f(lat.get("max"), 1),
                     f(r.get("server_cpu_s")), f(r.get("loadgen_cpu_s")), mb(r.get("server_rss_kb_after")),
                     str(err)))

def table(hdr, rows):
    w = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(hdr)]
    print("  ".join(h.rjust(w[i]) for i, h in enumerate(hdr)))
    for r in rows:
        print("  ".join(c.rjust(w[i]) for i, c in enumerate(r)))

table(hdr, rows)

print("\nSummary per binary and shape (natter/bare = median of the per-pair ratios, as the README asks;")
print("latency and CPU = medians over the natter runs; lost/dup/reord = sums over the natter runs [bare's])")
for (si, shape) in shapes:
    print(f"  S{si+1}: {shape}")
hdr = ("shape", "binary", "natter deliv/s per run", "median", "bare per run", "bare med",
       "ratios per pair", "natter/bare", "lost", "dup", "reord", "p50 ms", "p99 ms",
       "srv cpu s", "bare cpu s", "RSS MB max")
rows = []
for (si, shape) in shapes:
    for b in bins:
        n = sorted([r for r in runs if r["ab_shape_idx"] == si and r["ab_bin"] == b and r["ab_kind"] == "natter"], key=lambda r: r["ab_pair"])
        ba = sorted([r for r in runs if r["ab_shape_idx"] == si and r["ab_bin"] == b and r["ab_kind"] == "bare"], key=lambda r: r["ab_pair"])
        bymap = {r["ab_pair"]: r for r in ba}
        ratios = []
        for r in n:
            x = bymap.get(r["ab_pair"])
            if x and x.get("delivered_per_s") and r.get("delivered_per_s") is not None:
                ratios.append(r["delivered_per_s"] / x["delivered_per_s"])
        s = lambda rs, key: sum((r.get(key) or 0) for r in rs)
        rows.append((f"S{si+1}", b,
                     " ".join(k(r.get("delivered_per_s")) for r in n), k(med([r.get("delivered_per_s") for r in n])),
                     " ".join(k(r.get("delivered_per_s")) for r in ba), k(med([r.get("delivered_per_s") for r in ba])),
                     " ".join(f(x) for x in ratios), f(med(ratios)),
                     f"{s(n,'deliveries_missing')} [{s(ba,'deliveries_missing')}]",
                     f"{s(n,'duplicates')} [{s(ba,'duplicates')}]",
                     f"{s(n,'out_of_order')} [{s(ba,'out_of_order')}]",
                     f(med([(r.get('latency_ms') or {}).get('p50') for r in n])),
                     f(med([(r.get('latency_ms') or {}).get('p99') for r in n])),
                     f(med([r.get('server_cpu_s') for r in n])),
                     f(med([r.get('server_cpu_s') for r in ba])),
                     mb(max([r.get('server_rss_kb_after') or 0 for r in n] or [0]) or None)))
table(hdr, rows)
PY
log "results in $OUT (runs.jsonl, summary.txt, per-run .json/.err)"
