#!/usr/bin/env bash
# Load benchmark: 16 connections for 30 s of mixed search, notice, match
# and page requests against `target/release/sebroker serve --demo` on
# 127.0.0.1 (rate limit raised), with wrk; reports requests/s, p50/p99 and
# errors, and exits 1 when any request failed.
#
# Usage: benches/load.sh [--connections N] [--duration SECONDS]
# Needs: wrk (installed with apt-get when missing), curl, a release build
# (built when missing). Stops the server it started on exit.
set -euo pipefail

CONNECTIONS=16
DURATION=30
while [ $# -gt 0 ]; do
  case "$1" in
    --connections) CONNECTIONS="$2"; shift 2 ;;
    --duration) DURATION="$2"; shift 2 ;;
    *) echo "usage: $0 [--connections N] [--duration SECONDS]" >&2; exit 2 ;;
  esac
done

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="$TARGET/release/sebroker"
WORK="$(mktemp -d -t sebroker-load-XXXXXX)"
SERVER_PID=""

cleanup() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

need() {
  command -v "$1" >/dev/null 2>&1 && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing $2 with apt-get" >&2
    apt-get install -y -q "$2" >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q "$2" >/dev/null; }
  fi
  command -v "$1" >/dev/null 2>&1 || { echo "error: $1 is needed (apt-get install $2)" >&2; exit 1; }
}
need wrk wrk
need curl curl

if [ ! -x "$BIN" ]; then
  echo "building the release binary (a few minutes)" >&2
  (cd "$ROOT" && cargo build --release --bin sebroker)
fi

# The server prints its URL on stdout and the demo keys on stderr.
SEBROKER_RATE_LIMIT=4000000000 RUST_LOG=error \
  "$BIN" serve --demo --addr 127.0.0.1:0 --no-sync >"$WORK/out" 2>"$WORK/err" &
SERVER_PID=$!
URL=""
for _ in $(seq 1 600); do
  URL="$(grep -o 'http://127.0.0.1:[0-9]*' "$WORK/out" 2>/dev/null | head -1 || true)"
  if [ -n "$URL" ] && grep -q '^try: ' "$WORK/err"; then break; fi
  kill -0 "$SERVER_PID" 2>/dev/null || { echo "error: the server exited:" >&2; cat "$WORK/err" >&2; exit 1; }
  sleep 0.1
done
[ -n "$URL" ] || { echo "error: the server printed no URL" >&2; exit 1; }
KEY="$(sed -n 's/^demo key broker: //p' "$WORK/err" | head -1)"
[ -n "$KEY" ] || { echo "error: no demo broker key on stderr" >&2; exit 1; }

# A notice to read and match: the first hit of a search.
OCID="$(curl -sf -H "Authorization: Bearer $KEY" "$URL/api/v1/notices?q=support&limit=1&facets=false" \
  | grep -o '"ocid":"[^"]*"' | head -1 | cut -d'"' -f4)"
[ -n "$OCID" ] || { echo "error: the demo search found no notice" >&2; exit 1; }

# Pages need a session: fetch the form (and its CSRF field when it has one),
# then sign in with the broker key.
JAR="$WORK/cookies"
FORM="$(curl -sf -c "$JAR" -b "$JAR" "$URL/signin")"
CSRF="$(printf '%s' "$FORM" | grep -o 'name="csrf"[^>]*value="[^"]*"' | sed 's/.*value="//; s/"$//' | head -1 || true)"
curl -sf -o /dev/null -c "$JAR" -b "$JAR" --data-urlencode "key=$KEY" --data-urlencode "next=/" \
  ${CSRF:+--data-urlencode "csrf=$CSRF"} "$URL/signin"
COOKIE="$(awk '$6 == "sebroker_session" { print $6 "=" $7 }' "$JAR")"
[ -n "$COOKIE" ] || { echo "error: sign-in gave no session cookie" >&2; exit 1; }

cat >"$WORK/mixed.lua" <<LUA
-- Mixed requests, round robin: searches, a notice, its matches, two pages.
local paths = {
  { "/api/v1/notices?q=youth&region=UKG&limit=10", "api" },
  { "/api/v1/notices?q=cleaning+services&status=open&now=2026-12-01", "api" },
  { "/api/v1/notices?cpv=85&sort=deadline&limit=20", "api" },
  { "/api/v1/notices/$OCID", "api" },
  { "/api/v1/notices/$OCID/matches", "api" },
  { "/search?q=support", "page" },
  { "/notices/$OCID", "page" },
}
local i = 0
request = function()
  i = i % #paths + 1
  local p = paths[i]
  if p[2] == "api" then
    wrk.headers["Cookie"] = nil
    wrk.headers["Authorization"] = "Bearer $KEY"
  else
    wrk.headers["Authorization"] = nil
    wrk.headers["Cookie"] = "$COOKIE"
  end
  return wrk.format("GET", p[1])
end
done = function(summary, latency, requests)
  local e = summary.errors
  local errors = e.connect + e.read + e.write + e.status + e.timeout
  io.write(string.format("RESULT requests=%d seconds=%.1f rps=%.1f p50_ms=%.2f p99_ms=%.2f errors=%d status_errors=%d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, errors, e.status))
end
LUA

# Every path answers 200 with these credentials (a lost session would
# otherwise count as a fast redirect).
for p in "/api/v1/notices?q=youth&region=UKG&limit=10" "/api/v1/notices/$OCID" "/api/v1/notices/$OCID/matches"; do
  code="$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $KEY" "$URL$p")"
  [ "$code" = 200 ] || { echo "error: $p answered $code before the load" >&2; exit 1; }
done
for p in "/search?q=support" "/notices/$OCID"; do
  code="$(curl -s -o /dev/null -w '%{http_code}' -H "Cookie: $COOKIE" "$URL$p")"
  [ "$code" = 200 ] || { echo "error: page $p answered $code before the load" >&2; exit 1; }
done

echo "load: $CONNECTIONS connections for ${DURATION}s against $URL (notice $OCID)" >&2
wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --timeout 10s --latency -s "$WORK/mixed.lua" "$URL" | tee "$WORK/wrk.txt"
kill -0 "$SERVER_PID" 2>/dev/null || { echo "error: the server died under load" >&2; exit 1; }
LINE="$(grep '^RESULT ' "$WORK/wrk.txt")"
ERRORS="$(printf '%s' "$LINE" | sed 's/.* errors=\([0-9]*\).*/\1/')"
if [ "$ERRORS" != 0 ]; then
  echo "error: $ERRORS requests failed" >&2
  exit 1
fi
