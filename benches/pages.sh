#!/usr/bin/env bash
# Page latency on the demo data (issue 14: no page over 200 ms): starts
# `sebroker serve --demo` (release build), signs in as each role with the
# demo's keys, and times every page with curl: 20 requests each, median
# and worst in milliseconds (server time plus loopback). Fails when a
# page does not answer 200, so a page that moved is noticed.
# Usage: benches/pages.sh   (from anywhere; talks only to 127.0.0.1)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="$TARGET/release/sebroker"
(cd "$ROOT" && cargo build --release -q -p sebroker --bin sebroker)
TOKEN=pages-bench-admin-token
WORK=$(mktemp -d -t sebroker-pages-XXXXXX)
SEBROKER_ADMIN_TOKEN=$TOKEN "$BIN" serve --demo --addr 127.0.0.1:0 >"$WORK/out" 2>"$WORK/err" &
PID=$!
trap 'kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 1 300); do grep -q '^try: ' "$WORK/err" && break; sleep 0.1; done
URL=$(awk '/listening/ {print $NF}' "$WORK/out")
[ -n "$URL" ] || { echo "the server did not start:" >&2; cat "$WORK/err" >&2; exit 1; }
key_of() { sed -n "s/^demo key $1[^:]*: //p" "$WORK/err" | head -1; }
MEMBER_KEY=$(key_of member)
FUNDER_KEY=$(key_of funder)
MEMBER_ID=$(sed -n 's/^demo key member \([^:]*\): .*/\1/p' "$WORK/err" | head -1)

# Signs in with a key into cookie jar $2 (the form's CSRF token is bound
# to a cookie: fetch it first).
sign_in() {
  local csrf
  csrf=$(curl -s -c "$2" "$URL/signin" | sed -n 's/.*name="csrf" value="\([0-9a-f]*\)".*/\1/p' | head -1)
  curl -s -b "$2" -c "$2" -o /dev/null -d "key=$1&next=/&csrf=$csrf" "$URL/signin"
}
sign_in "$TOKEN" "$WORK/admin"
sign_in "$MEMBER_KEY" "$WORK/member"
sign_in "$FUNDER_KEY" "$WORK/funder"
: >"$WORK/anon"

# A case to show (the demo has none): opened through the API.
curl -s -o /dev/null -H "Authorization: Bearer $TOKEN" -H "Idempotency-Key: pages-bench-case" \
  -H 'Content-Type: application/json' -d '{"ocid":"ocds-h6vhtk-d00001","members":["m-0013"]}' "$URL/api/v1/cases"
# A notice the member is matched to, and the case, from the pages themselves.
OPP=$(curl -s -b "$WORK/member" "$URL/opportunities" | grep -o 'href="/opportunities/[^"]*"' | head -1 | sed 's/href="//; s/"$//' || true)
CASE=$(curl -s -b "$WORK/admin" "$URL/pipeline" | grep -o 'href="/cases/[^"]*"' | head -1 | sed 's/href="//; s/"$//' || true)

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, load $(cut -d' ' -f1-3 /proc/loadavg)"
time_page() { # jar, path
  local code times median worst
  code=$(curl -s -b "$1" -o /dev/null -w '%{http_code}' "$URL$2")
  [ "$code" = "200" ] || { echo "$2 answered $code to $(basename "$1")" >&2; exit 1; }
  times=$(for _ in $(seq 1 20); do curl -s -b "$1" -o /dev/null -w '%{time_total}\n' "$URL$2"; done | sort -n)
  median=$(echo "$times" | sed -n '10p')
  worst=$(echo "$times" | tail -1)
  printf '%-8s %-52s median %6.1f ms  worst %6.1f ms\n' "$(basename "$1")" "$2" \
    "$(echo "$median*1000" | bc -l)" "$(echo "$worst*1000" | bc -l)"
}
time_page "$WORK/anon" /signin
for p in /search "/search?q=youth&status=open" "/search?status=open&sort=deadline&offset=20" \
  /notices/ocds-h6vhtk-d00001 /notices/ocds-h6vhtk-d0000a /members "/members?q=food&sort=name" \
  /members/m-0013 /pipeline /dashboard /admin/people /market "/market?by=cluster"; do
  time_page "$WORK/admin" "$p"
done
if [ -n "$CASE" ]; then time_page "$WORK/admin" "$CASE"; else echo "(the demo has no case: no case page timed)"; fi
for p in /opportunities /alerts /settings /profile "/profile?cpv_q=catering"; do
  time_page "$WORK/member" "$p"
done
if [ -n "$OPP" ]; then time_page "$WORK/member" "$OPP"; fi
for p in /dashboard "/dashboard/totals.csv?by=cluster" "/dashboard/totals.csv?by=month" /market /market.csv; do
  time_page "$WORK/funder" "$p"
done
echo "member: $MEMBER_ID"
