#!/usr/bin/env bash
# Build the Magiyat/Coursework React frontend (front/) with esbuild so that it
# talks to a natter server instead of its original backend.
#
#   usage: build.sh FRONT_DIR http://HOST:PORT OUT_DIR
#
# FRONT_DIR is an unmodified `git archive HEAD front` of the client repository
# (drive.py makes it). It is never edited: its src/, public/ and tsconfig.json
# are copied to target/real-clients/coursework/build/app and the copy gets the
# only change we make to the client, its two hard-coded base URLs:
#   http://51.250.79.250:8000/  -> http://HOST:PORT/   (src/services/http-common.ts)
#   ws://51.250.79.250:8000/    -> ws://HOST:PORT/     (src/Messenger/Messages.tsx)
# The diff against upstream is printed so the build log shows exactly that.
#
# The app's own toolchain (react-scripts) is not used; esbuild plus the app's
# runtime deps come from package.json beside this script, installed with npm
# into target/real-clients/coursework/build/node_modules.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
WORK=$ROOT/target/real-clients/coursework
BUILD=$WORK/build

FRONT=${1:?usage: build.sh FRONT_DIR http://HOST:PORT OUT_DIR}
BASE=${2:?usage: build.sh FRONT_DIR http://HOST:PORT OUT_DIR}
OUT=${3:?usage: build.sh FRONT_DIR http://HOST:PORT OUT_DIR}
BASE=${BASE%/}
WSBASE=ws://${BASE#http://}
UPSTREAM=51.250.79.250:8000

# npm deps: (re)install when package.json changed or node_modules is missing
mkdir -p "$BUILD"
if ! cmp -s "$HERE/package.json" "$BUILD/package.json" || [ ! -x "$BUILD/node_modules/.bin/esbuild" ]; then
  cp "$HERE/package.json" "$BUILD/package.json"
  (cd "$BUILD" && npm install --no-audit --no-fund --loglevel=error)
fi

APP=$BUILD/app
rm -rf "$APP" "$OUT"
mkdir -p "$APP" "$OUT"
cp -r "$FRONT/src" "$FRONT/public" "$FRONT/tsconfig.json" "$APP/"
sed -i "s#http://$UPSTREAM/#$BASE/#" "$APP/src/services/http-common.ts"
sed -i "s#ws://$UPSTREAM/#$WSBASE/#" "$APP/src/Messenger/Messages.tsx"
# fail loudly if upstream moved its URLs (the seds above would silently do nothing)
grep -q "$BASE/" "$APP/src/services/http-common.ts" || { echo "base URL not found in http-common.ts" >&2; exit 1; }
grep -q "$WSBASE/" "$APP/src/Messenger/Messages.tsx" || { echo "ws URL not found in Messages.tsx" >&2; exit 1; }
if grep -rq "$UPSTREAM" "$APP/src"; then
  echo "upstream address still present after patching:" >&2; grep -rn "$UPSTREAM" "$APP/src" >&2; exit 1
fi
echo "== changes to the client source (diff -r upstream patched):"
diff -r "$FRONT/src" "$APP/src" || true

cd "$BUILD"
NODE_PATH="$BUILD/node_modules" ./node_modules/.bin/esbuild "$APP/src/index.tsx" \
  --bundle --outdir="$OUT" --entry-names=static/[name] --asset-names=static/[name]-[hash] \
  --public-path=/ --jsx=automatic --loader:.jpg=file --loader:.png=file --loader:.svg=file \
  --define:process.env.NODE_ENV='"production"' --minify --sourcemap --target=es2020 --log-level=warning
cp "$APP/public/robots.txt" "$APP/public/manifest.json" "$OUT/" 2>/dev/null || true
# public/index.html is CRA's template: add the bundle's css and js
sed 's#</head>#  <link rel="stylesheet" href="/static/index.css" />\n  </head>#; s#</body>#  <script src="/static/index.js"></script>\n  </body>#' \
  "$APP/public/index.html" > "$OUT/index.html"
ls -la "$OUT" "$OUT/static"
