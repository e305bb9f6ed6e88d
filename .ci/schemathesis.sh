#!/usr/bin/env bash
# Schemathesis (an independent property-based API client) against the
# served OpenAPI document: the debug binary on 127.0.0.1 with the demo data
# and the shared data loaded, no sync, no outbound delivery, the admin
# token as credential, rate limits raised, 25 examples per operation
# (ST_MAX_EXAMPLES=N for a longer hunt),
# bounded by 10 minutes. Called by .ci/run; runs alone too:
#   bash .ci/schemathesis.sh
set -euo pipefail
cd "$(dirname "$0")/.."

ST_VERSION=4.32.5
TARGET="${CARGO_TARGET_DIR:-$PWD/target}"
VENV="$TARGET/schemathesis-venv"

echo "== schemathesis $ST_VERSION"
if [ ! -x "$VENV/bin/st" ] || ! "$VENV/bin/st" --version 2>/dev/null | grep -q "$ST_VERSION"; then
  rm -rf "$VENV"
  if ! python3 -m venv "$VENV" >/dev/null 2>&1; then
    # Debian ships venv without ensurepip in a package of its own.
    SUDO=""
    if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq python3-venv >/dev/null
    rm -rf "$VENV"
    python3 -m venv "$VENV"
  fi
  "$VENV/bin/pip" install -q "schemathesis==$ST_VERSION"
fi
"$VENV/bin/st" --version

# The test step already built the debug profile: this reuses its deps.
cargo build -q --bin sebroker
BIN="$TARGET/debug/sebroker"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/sebroker-st-XXXXXX")"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

TOKEN="st-$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"
cat >"$WORK/sebroker.toml" <<EOF
admin_token = '$TOKEN'
rate_limit_per_minute = 10000000
auth_attempts_per_minute = 10000000
[alerts]
# Nothing leaves the machine: no delivery runs, no webhook name is resolved;
# e-mails would go to the outbox folder (no smtp_url).
deliver = false
EOF
run() { "$BIN" --data-dir "$WORK/data" --config "$WORK/sebroker.toml" "$@"; }

echo "== data: the demo set and the shared data"
run members import fixtures/demo/members.json --json >/dev/null
files=(fixtures/demo/fts-2026-11.json fixtures/demo/cf-2026-11.json)
if [ -d ../shared/data/ocds ]; then
  files+=(../shared/data/ocds/fts/backfill/2026-08-10/*.json ../shared/data/ocds/cf/*.json)
elif [ "${SEBROKER_REQUIRE_DATA:-}" = "1" ]; then
  echo "../shared/data is absent and SEBROKER_REQUIRE_DATA=1" >&2
  exit 1
fi
run ingest "${files[@]}" --json >/dev/null
run anchors import --anchor walsall fixtures/anchors/opportunities.json --json >/dev/null

echo "== serve"
run serve --addr 127.0.0.1:0 --no-sync >"$WORK/serve.out" 2>"$WORK/serve.err" &
SERVER_PID=$!
URL=""
for _ in $(seq 1 600); do
  URL="$(sed -n 's/^sebroker listening on \(http:\/\/127\.0\.0\.1:[0-9]*\)$/\1/p' "$WORK/serve.out" | head -1)"
  [ -n "$URL" ] && break
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then cat "$WORK/serve.err" >&2; exit 1; fi
  sleep 0.1
done
[ -n "$URL" ] || { echo "serve did not start" >&2; cat "$WORK/serve.err" >&2; exit 1; }
echo "serving on $URL"

echo "== schemathesis run"
status=0
# From the scratch folder: Schemathesis keeps its cache in the current one.
CONFIG="$PWD/.ci/schemathesis.toml"
cd "$WORK"
# One worker: with two threads, CPython 3.11's ast.parse (which Hypothesis
# calls to describe its filters) can fail with "AST constructor recursion
# depth mismatch", a runtime error of the tool, not of the server.
timeout "${ST_TIMEOUT:-600}" "$VENV/bin/st" --config-file "$CONFIG" run "$URL/api/v1/openapi.json" \
  --url "$URL" \
  --checks all \
  --max-examples "${ST_MAX_EXAMPLES:-25}" \
  --workers 1 \
  -H "Authorization: Bearer $TOKEN" || status=$?
if [ "$status" != 0 ]; then
  echo "schemathesis failed (exit $status); the server's log:" >&2
  tail -n 50 "$WORK/serve.err" >&2
fi
exit "$status"
