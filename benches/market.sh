#!/usr/bin/env bash
# The market map at national scale (issue 16): 100,000 notices (the real
# FTS and CF releases scaled up by benches/national's corpus generator) and
# 1,000 members, then `GET /api/v1/market` against `serve`: the first answer
# (which builds the in-memory snapshot from the store), warm answers (the
# snapshot reused while nothing changed), and the first answer after each
# of five one-notice changes made through the API. Measures, asserts nothing.
#
# Usage: benches/market.sh [--smoke]
#   default: 100,000 releases, 50 warm requests per grouping
#   --smoke: 2,000 releases, 5 warm requests
#   MARKET_SIZE=N: another size; SEBROKER_BIN: another sebroker build
#   MARKET_KEEP=DIR: keep a copy of the ingested data folder in DIR;
#   MARKET_DATA=DIR: start from that copy instead of ingesting again
# Needs: ../shared/data, curl, release builds (built here).
# Talks only to 127.0.0.1; stops the server it started on exit.
set -euo pipefail

N=100000
WARM=50
case "${1:-}" in
  --smoke) N=2000; WARM=5 ;;
  "") ;;
  *) echo "usage: $0 [--smoke]" >&2; exit 2 ;;
esac
N="${MARKET_SIZE:-$N}"

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DATA="$ROOT/../shared/data"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="${SEBROKER_BIN:-$TARGET/release/sebroker}"
NAT="$TARGET/release/national"
WORK="$(mktemp -d -t sebroker-market-XXXXXX)"
PID=""

cleanup() {
  if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

[ -d "$DATA/ocds" ] || { echo "error: $DATA/ocds is missing" >&2; exit 1; }
command -v curl >/dev/null || { echo "error: curl is needed" >&2; exit 1; }
if [ -z "${SEBROKER_BIN:-}" ]; then (cd "$ROOT" && cargo build --release -q -p sebroker --bin sebroker); fi
(cd "$ROOT" && cargo build --release -q -p sebroker-national)

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, load $(cut -d' ' -f1-3 /proc/loadavg)"
C="$WORK/corpus"; D="$WORK/data"
export SEBROKER_GEO_DIR="$DATA/geo"
if [ -n "${MARKET_DATA:-}" ] && [ -d "$MARKET_DATA/data" ]; then
  # A copy of a data folder an earlier run kept (MARKET_KEEP): no ingest.
  cp -r "$MARKET_DATA/data" "$D"
  echo "reusing the data folder of $MARKET_DATA"
else
  "$NAT" corpus "$DATA" "$C" "$N" 10 >/dev/null
  "$BIN" --data-dir "$D" members import "$C/members.json" --effective 2026-01-01 --json >/dev/null
  T0=$(date +%s.%N)
  "$BIN" --data-dir "$D" ingest "$C/releases" --json >/dev/null 2>"$WORK/ingest.log"
  T1=$(date +%s.%N)
  echo "ingested $N releases with 1,000 members in $(awk -v a="$T0" -v b="$T1" 'BEGIN{printf "%.1f", b - a}') s"
  if [ -n "${MARKET_KEEP:-}" ]; then mkdir -p "$MARKET_KEEP" && cp -r "$D" "$MARKET_KEEP/data"; fi
fi
TOKEN="$("$BIN" --data-dir "$D" keys create --role funder --name market 2>/dev/null | tail -1)"
ADMIN="$("$BIN" --data-dir "$D" keys create --role admin --name market-changes 2>/dev/null | tail -1)"

"$BIN" --data-dir "$D" serve --addr 127.0.0.1:0 --no-sync >"$WORK/serve.out" 2>"$WORK/serve.err" &
PID=$!
URL=""
for _ in $(seq 1 600); do
  URL="$(grep -o 'http://127.0.0.1:[0-9]*' "$WORK/serve.out" 2>/dev/null | head -1 || true)"
  [ -n "$URL" ] && break
  sleep 0.1
done
[ -n "$URL" ] || { echo "error: serve printed no URL" >&2; cat "$WORK/serve.err" >&2; exit 1; }

# One request's wall time in milliseconds (curl's own clock).
ms() {
  curl -sS -o "$WORK/answer.json" -w '%{time_total}\n' -H "Authorization: Bearer $TOKEN" "$URL$1" \
    | awk '{printf "%.1f", $1 * 1000}'
}
NOW=2026-08-12
printf '\n%-16s %9s %9s %9s %9s %6s %12s\n' by first_ms p50_ms p95_ms max_ms rows open_notices
for BY in local_authority cluster region cpv_division; do
  Q="/api/v1/market?by=$BY&now=$NOW"
  FIRST=$(ms "$Q")
  for _ in $(seq 1 "$WARM"); do ms "$Q"; echo; done | sort -n >"$WORK/warm.txt"
  P50=$(awk '{a[NR]=$1} END{print a[int((NR+1)*0.50)]}' "$WORK/warm.txt")
  P95=$(awk '{a[NR]=$1} END{i=int(NR*0.95+0.5); if(i<1)i=1; print a[i]}' "$WORK/warm.txt")
  MAX=$(tail -1 "$WORK/warm.txt")
  ROWS=$(grep -o '"key"' "$WORK/answer.json" | wc -l)
  OPEN=$(grep -o '"open_notices":[0-9]*' "$WORK/answer.json" | tail -1 | cut -d: -f2)
  printf '%-16s %9s %9s %9s %9s %6s %12s\n' "$BY" "$FIRST" "$P50" "$P95" "$MAX" "$ROWS" "$OPEN"
done
echo "(first: the first answer after start, which builds the snapshot from the store; the others reuse it)"

# A change through the API (an anchor's opportunity: one notice written,
# grouped and matched), then the next answer: the snapshot re-reads the
# notices the change log names since it was made, not the whole store.
printf '\n%-8s %12s %12s\n' change post_ms answer_ms
for k in 1 2 3 4 5; do
  BODY='{"anchor":"Bench Council (fictional)","reference":"MKT-'"$k"'","title":"Community transport '"$k"'","cpv":["60130000"],"value_max_gbp":25000,"deadline":"2027-06-30","places":["Walsall"],"type":"open","vcse_suitable":true}'
  POST=$(curl -sS -o "$WORK/post.json" -w '%{http_code} %{time_total}\n' -X POST \
    -H "Authorization: Bearer $ADMIN" -H "Content-Type: application/json" -H "Idempotency-Key: market-$k" \
    -d "$BODY" "$URL/api/v1/anchors/bench/opportunities")
  case "$POST" in 2*) ;; *) echo "error: the change was refused: $POST $(cat "$WORK/post.json")" >&2; exit 1 ;; esac
  printf '%-8s %12s %12s\n' "$k" "$(echo "$POST" | awk '{printf "%.1f", $2 * 1000}')" "$(ms "/api/v1/market?by=local_authority&now=$NOW")"
done
echo "(answer: the first market answer after the change)"
