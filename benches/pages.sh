#!/usr/bin/env bash
# Page latency on the demo data: starts `sebroker serve --demo` (release
# build), signs in with an admin token, and times each page with curl
# (20 requests each; prints median and worst in milliseconds).
# Usage: benches/pages.sh   (from the repository root)
set -euo pipefail
BIN=./target/release/sebroker
[ -x "$BIN" ] || cargo build --release
TOKEN=pages-bench-admin-token
OUT=$(mktemp)
SEBROKER_ADMIN_TOKEN=$TOKEN "$BIN" serve --demo --addr 127.0.0.1:0 >"$OUT" 2>/dev/null &
PID=$!
trap 'kill $PID 2>/dev/null || true; rm -f "$OUT" "$JAR"' EXIT
for _ in $(seq 1 100); do grep -q listening "$OUT" && break; sleep 0.1; done
URL=$(awk '/listening/ {print $NF}' "$OUT")
JAR=$(mktemp)
# The sign-in form carries a CSRF token bound to a cookie: fetch it first.
CSRF=$(curl -s -c "$JAR" "$URL/signin" | sed -n 's/.*name="csrf" value="\([0-9a-f]*\)".*/\1/p' | head -1)
curl -s -b "$JAR" -c "$JAR" -o /dev/null -d "key=$TOKEN&next=/search&csrf=$CSRF" "$URL/signin"
for page in /search /notices/ocds-h6vhtk-d00001; do
  code=$(curl -s -b "$JAR" -o /dev/null -w '%{http_code}' "$URL$page")
  [ "$code" = "200" ] || { echo "$page answered $code (not signed in?)" >&2; exit 1; }
done
for page in /search "/search?q=youth&status=open" /notices/ocds-h6vhtk-d00001 /notices/ocds-h6vhtk-d0000a /members /members/m-0013; do
  times=$(for _ in $(seq 1 20); do curl -s -b "$JAR" -o /dev/null -w '%{time_total}\n' "$URL$page"; done | sort -n)
  median=$(echo "$times" | sed -n '10p')
  worst=$(echo "$times" | tail -1)
  printf '%-40s median %6.1f ms  worst %6.1f ms\n' "$page" "$(echo "$median*1000" | bc -l)" "$(echo "$worst*1000" | bc -l)"
done
