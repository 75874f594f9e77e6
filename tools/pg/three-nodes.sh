#!/usr/bin/env bash
# three-nodes.sh — docs/SCALING.md's "three nodes behind a load balancer", on one
# machine: three natter nodes (--bus postgres) on a fresh database of the PostgreSQL
# server tools/pg/up.sh starts, nginx in front with SCALING.md's location block
# (plain HTTP on loopback instead of TLS), then the fan-out yardstick's load client
# through nginx: nginx spreads the sockets over the nodes, and loadgen counts what
# was lost, doubled or reordered.
#
# usage: NATTER_BIN=target/release/natter tools/pg/three-nodes.sh
# Needs nginx, psql, jq, curl; LG (loadgen) as in tools/bench/ab.sh.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${NATTER_BIN:-$ROOT/target/release/natter}
LG=${LG:-$ROOT/target/bench/target-loadgen/release/loadgen}
PGBASE=${NATTER_PG_URL:-postgres://natter:natter@127.0.0.1:5433/natter_test}
PORT=${PORT:-8089}
OUT=${OUT:-$(mktemp -d /tmp/three-nodes-XXXXXX)}
SHAPE=${SHAPE:---rooms 10 --users-per-room 10 --messages 200}
for tool in nginx psql jq curl; do command -v $tool >/dev/null || { echo "$tool is needed" >&2; exit 2; }; done
[ -x "$BIN" ] && [ -x "$LG" ] || { echo "set NATTER_BIN and LG" >&2; exit 2; }

PIDS=()
cleanup() {
  [ -f "$OUT/nginx.pid" ] && kill "$(cat "$OUT/nginx.pid")" 2>/dev/null || true
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

name=natter_three_$(date +%s%N)
psql -X -q "$PGBASE" -c "CREATE DATABASE $name TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C.UTF-8'"
export NATTER_DB="${PGBASE%/*}/$name"

ports=()
for i in 1 2 3; do
  NATTER_REGISTRATION=open NATTER_SIGNUPS_PER_HOUR=0 NATTER_HASHES_PER_ADDRESS=0 \
  NATTER_CONNECTIONS_PER_ADDRESS=0 NATTER_SOCKETS_PER_USER=0 NATTER_SEND_RATE=0 \
  "$BIN" --bus postgres --listen 127.0.0.1:0 --argon2-memory-kib 8 --argon2-iterations 1 \
      --log warn > "$OUT/node-$i.out" 2> "$OUT/node-$i.err" &
  PIDS+=($!)
  for _ in $(seq 300); do
    port=$(sed -n 's/^listening on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$OUT/node-$i.out")
    [ -n "$port" ] && break; sleep 0.1
  done
  ports+=("$port")
done
echo "nodes on ports ${ports[*]}"

cat > "$OUT/nginx.conf" <<EOF
pid $OUT/nginx.pid;
error_log $OUT/nginx-error.log;
events {}
http {
    log_format up '\$upstream_addr \$status \$request_method \$uri';
    access_log $OUT/nginx-access.log up;
    upstream natter {
        server 127.0.0.1:${ports[0]};
        server 127.0.0.1:${ports[1]};
        server 127.0.0.1:${ports[2]};
    }
    map \$http_upgrade \$connection_upgrade { default upgrade; '' close; }
    server {
        listen 127.0.0.1:$PORT;
        client_max_body_size 30m;
        location / {
            proxy_pass http://natter;
            proxy_http_version 1.1;
            proxy_set_header Upgrade \$http_upgrade;
            proxy_set_header Connection \$connection_upgrade;
            proxy_set_header Host \$host;
            proxy_set_header X-Forwarded-Proto \$scheme;
            proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
            proxy_read_timeout 1h;
            proxy_send_timeout 1h;
            proxy_buffering off;
            proxy_next_upstream error timeout;
        }
    }
}
EOF
nginx -t -q -c "$OUT/nginx.conf" -p "$OUT" -e "$OUT/nginx-error.log"
nginx -c "$OUT/nginx.conf" -p "$OUT" -e "$OUT/nginx-error.log"
base="http://127.0.0.1:$PORT"
for _ in $(seq 50); do curl -fs "$base/api/health" >/dev/null && break; sleep 0.1; done

# 100 users and 10 rooms, through nginx (so through all three nodes).
: > "$OUT/register.jsonl"
for u in $(seq 0 99); do
  curl -fsS -X POST -H 'content-type: application/json' \
    -d "{\"username\":\"three$(printf %03d "$u")\",\"password\":\"three-password\"}" \
    "$base/api/auth/register" >> "$OUT/register.jsonl"; echo >> "$OUT/register.jsonl"
done
jq -sr '.[].access_token' "$OUT/register.jsonl" > "$OUT/tokens.txt"
jq -sr '.[].user_id' "$OUT/register.jsonl" > "$OUT/ids.txt"
mapfile -t TOK < "$OUT/tokens.txt"; mapfile -t IDS < "$OUT/ids.txt"
: > "$OUT/rooms.jsonl"
for r in $(seq 0 9); do
  ids=$(printf '"%s",' "${IDS[@]:$((r * 10)):10}")
  curl -fsS -X POST -H 'content-type: application/json' -H "authorization: Bearer ${TOK[$((r * 10))]}" \
    -d "{\"name\":\"three-room-$r\",\"kind\":\"room\",\"participant_ids\":[${ids%,}]}" \
    "$base/api/conversations" >> "$OUT/rooms.jsonl"; echo >> "$OUT/rooms.jsonl"
done
jq -sc '.[].conversation_id' "$OUT/rooms.jsonl" > "$OUT/rooms.txt"

# shellcheck disable=SC2086
"$LG" --threads 2 --duration-limit 120 --connect-timeout 10 --drain-timeout 5 --window 10 $SHAPE \
  --url-template "ws://127.0.0.1:$PORT/api/ws?token={token}" --tokens "$OUT/tokens.txt" \
  --rooms-file "$OUT/rooms.txt" --send-template '{"action":"send","conversation_id":{room_id},"message":"{body}"}' \
  --recv-field /message/message > "$OUT/loadgen.json" 2> "$OUT/loadgen.err" || true
echo "requests and sockets (101) per node, as nginx spread them:"
awk '{print $1, $2}' "$OUT/nginx-access.log" | sort | uniq -c
tail -n 1 "$OUT/loadgen.json" | jq -c '{deliveries_received, deliveries_missing, duplicates, out_of_order, delivered_per_s, p99: .latency_ms.p99}'
echo "out: $OUT"
