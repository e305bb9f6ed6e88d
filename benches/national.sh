#!/usr/bin/env bash
# National scale, side by side in one run (issue 12): sebroker's ingest end
# to end against a bare tantivy baseline of the same version on the same
# text, then sebroker's HTTP search against a bare axum + tantivy server on
# the same 1,000 keyword + region queries. Prints times, per-release cost,
# ratios, peak RSS, store size vs input JSON, p50/p99 and req/s.
#
# Usage: benches/national.sh [--smoke] [--million]
#   default: 25,000 and 100,000 releases; search on the 100k data folder
#   --smoke: 2,000 releases, 100 queries, 3 s of concurrent load (CI)
#   --million: also 1,000,000 releases (manual; about 20 GB of disk), and
#     one-client search on the million's folder too
#   NATIONAL_SIZES="25000": other sizes; SEBROKER_BIN: another sebroker build
# Needs: ../shared/data, /usr/bin/time, release builds (built here).
# Talks only to 127.0.0.1; stops the servers it started on exit.
set -euo pipefail

SIZES="25000 100000"
QUERIES=1000
CONNS=16
SECS=30
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) SIZES="2000"; QUERIES=100; SECS=3 ;;
    --million) SIZES="$SIZES 1000000" ;;
    *) echo "usage: $0 [--smoke] [--million]" >&2; exit 2 ;;
  esac
  shift
done
# NATIONAL_SIZES overrides the sizes (e.g. "25000" for a quick comparison).
SIZES="${NATIONAL_SIZES:-$SIZES}"

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DATA="$ROOT/../shared/data"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
# SEBROKER_BIN: another build of sebroker to measure (e.g. an older one).
BIN="${SEBROKER_BIN:-$TARGET/release/sebroker}"
NAT="$TARGET/release/national"
WORK="$(mktemp -d -t sebroker-national-XXXXXX)"
PIDS=()

cleanup() {
  for p in "${PIDS[@]}"; do
    kill "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

[ -d "$DATA/ocds" ] || { echo "error: $DATA/ocds is missing" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "error: /usr/bin/time is needed (apt-get install time)" >&2; exit 1; }
if [ -z "${SEBROKER_BIN:-}" ]; then (cd "$ROOT" && cargo build --release -q -p sebroker --bin sebroker); fi
(cd "$ROOT" && cargo build --release -q -p sebroker-national)

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, load $(cut -d' ' -f1-3 /proc/loadavg)"

# Waits for a line with a 127.0.0.1 URL in file $1 (bounded: 300 s; a
# million notices take a while to open).
wait_url() {
  for _ in $(seq 1 3000); do
    u="$(grep -o 'http://127.0.0.1:[0-9]*' "$1" 2>/dev/null | head -1 || true)"
    if [ -n "$u" ]; then echo "$u"; return 0; fi
    sleep 0.1
  done
  echo "error: no URL in $1:" >&2; cat "$1" >&2; return 1
}

val() { awk -v k="$1" '$1==k{print $2}' "$2"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

printf '\n%-9s %10s %10s %7s %12s %12s %9s %10s %10s %6s %11s\n' \
  releases sebroker_s bare_s ratio us/release bare_us/rel peak_MiB store_MiB input_MiB store/in compacted/in
LAST=""
for N in $SIZES; do
  C="$WORK/c$N"; D="$WORK/d$N"
  "$NAT" corpus "$DATA" "$C" "$N" "$QUERIES" >/dev/null
  "$BIN" --data-dir "$D" members import "$C/members.json" --effective 2026-01-01 --json >/dev/null
  T0=$(date +%s.%N)
  RUST_LOG=info /usr/bin/time -v -o "$C/time.txt" "$BIN" --data-dir "$D" ingest "$C/releases" --json >"$C/report.json" 2>"$C/ingest.log"
  T1=$(date +%s.%N)
  "$NAT" bare-index "$C/bare.jsonl" "$WORK/b$N" >"$C/bare.txt"
  S=$(awk -v a="$T0" -v b="$T1" 'BEGIN{printf "%.3f", b - a}')
  B=$(val bare_index_seconds "$C/bare.txt")
  RSS=$(awk -F': ' '/Maximum resident set size/{printf "%.0f", $2 / 1024}' "$C/time.txt")
  STORE=$(du -sb "$D/store" | awk '{printf "%.1f", $1 / 1048576}')
  IN=$(awk '{printf "%.1f", $1 / 1048576}' "$C/input_bytes")
  # `sebroker compact` (offline, not counted in the ingest time): sled
  # keeps old page versions in its log; a copy in key order drops them.
  "$BIN" --data-dir "$D" compact >/dev/null 2>&1
  COMPACTED=$(du -sb "$D/store" | awk '{printf "%.1f", $1 / 1048576}')
  printf '%-9s %10s %10s %7s %12s %12s %9s %10s %10s %6s %11s\n' "$N" "$S" "$B" "$(ratio "$S" "$B")" \
    "$(awk -v s="$S" -v n="$N" 'BEGIN{printf "%.1f", s * 1e6 / n}')" \
    "$(awk -v s="$B" -v n="$N" 'BEGIN{printf "%.1f", s * 1e6 / n}')" \
    "$RSS" "$STORE" "$IN" "$(ratio "$STORE" "$IN")" "$(ratio "$COMPACTED" "$IN")"
  # Where the time went (sebroker builds that log it).
  sed 's/\x1b\[[0-9;]*m//g' "$C/ingest.log" 2>/dev/null \
    | grep -ho 'read_ms=[0-9]*.*follow_ms=[0-9]*\|changes=[0-9]*.*total_ms=[0-9]*' \
    | sed "s/^/          $N: /" >>"$WORK/profile.txt" || true
  # Search runs on 100k notices (or the smoke corpus), not on the million.
  if [ "$N" -le 100000 ]; then LAST="$N"; fi
done

if [ -s "$WORK/profile.txt" ]; then echo "ingest phases (ms):"; cat "$WORK/profile.txt"; fi

N="$LAST"; C="$WORK/c$N"; D="$WORK/d$N"
TOKEN="$("$BIN" --data-dir "$D" keys create --role broker --name national 2>/dev/null | tail -1)"
SEBROKER_RATE_LIMIT=4000000000 RUST_LOG=error \
  "$BIN" --data-dir "$D" serve --addr 127.0.0.1:0 --no-sync >"$WORK/serve.out" 2>"$WORK/serve.err" &
PIDS+=($!)
"$NAT" bare-serve "$WORK/b$N" >"$WORK/bare.out" 2>&1 &
PIDS+=($!)
URL="$(wait_url "$WORK/serve.out")"
BURL="$(wait_url "$WORK/bare.out")"

Q="$C/queries.tsv"
R="$WORK/load.txt"
"$NAT" load "$BURL/search?" "$Q" bare "" "$QUERIES" "$CONNS" "$SECS" >>"$R"
"$NAT" load "$URL/api/v1/notices?" "$Q" lean "&facets=false&snippets=false" "$QUERIES" "$CONNS" "$SECS" "$TOKEN" >>"$R"
"$NAT" load "$URL/api/v1/notices?" "$Q" default "" "$QUERIES" 0 0 "$TOKEN" >>"$R"

# Prints the one-client table of load results file $2 for $1 notices.
search_table() {
  local b50 b99 p50 p99 s label
  b50=$(val bare_p50_ms "$2"); b99=$(val bare_p99_ms "$2")
  printf '\nHTTP search, %s notices, %s keyword + region queries, one keep-alive client\n' "$1" "$QUERIES"
  printf '%-36s %9s %9s %9s %9s\n' shape p50_ms p99_ms x_p50 x_p99
  printf '%-36s %9s %9s %9s %9s\n' "bare axum + tantivy (top 10 ids)" "$b50" "$b99" 1.00 1.00
  for s in lean default; do
    label="sebroker facets=false&snippets=false"
    [ "$s" = default ] && label="sebroker defaults (facets, snippets)"
    p50=$(val "${s}_p50_ms" "$2"); p99=$(val "${s}_p99_ms" "$2")
    printf '%-36s %9s %9s %9s %9s\n' "$label" "$p50" "$p99" "$(ratio "$p50" "$b50")" "$(ratio "$p99" "$b99")"
  done
}
search_table "$N" "$R"
printf '\n%s connections for %s s\n' "$CONNS" "$SECS"
printf '%-36s %9s %9s\n' side req/s p99_ms
printf '%-36s %9s %9s\n' "bare axum + tantivy" "$(val bare_rps "$R")" "$(val bare_conc_p99_ms "$R")"
printf '%-36s %9s %9s\n' "sebroker facets=false&snippets=false" "$(val lean_rps "$R")" "$(val lean_conc_p99_ms "$R")"
printf 'req/s ratio (sebroker / bare): %s\n' "$(ratio "$(val lean_rps "$R")" "$(val bare_rps "$R")")"

# The largest size, when it is over 100k (--million): one-client search on
# its folder against the bare server on its index (p99 under 10 ms is the
# target at 1M notices).
BIG="$(printf '%s\n' $SIZES | sort -n | tail -1)"
if [ "$BIG" -gt "$LAST" ]; then
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  PIDS=()
  C="$WORK/c$BIG"; D="$WORK/d$BIG"
  TOKEN="$("$BIN" --data-dir "$D" keys create --role broker --name national 2>/dev/null | tail -1)"
  SEBROKER_RATE_LIMIT=4000000000 RUST_LOG=error \
    "$BIN" --data-dir "$D" serve --addr 127.0.0.1:0 --no-sync >"$WORK/serve_big.out" 2>"$WORK/serve_big.err" &
  PIDS+=($!)
  "$NAT" bare-serve "$WORK/b$BIG" >"$WORK/bare_big.out" 2>&1 &
  PIDS+=($!)
  URL="$(wait_url "$WORK/serve_big.out")"
  BURL="$(wait_url "$WORK/bare_big.out")"
  Q="$C/queries.tsv"
  R="$WORK/load_big.txt"
  "$NAT" load "$BURL/search?" "$Q" bare "" "$QUERIES" 0 0 >>"$R"
  "$NAT" load "$URL/api/v1/notices?" "$Q" lean "&facets=false&snippets=false" "$QUERIES" 0 0 "$TOKEN" >>"$R"
  "$NAT" load "$URL/api/v1/notices?" "$Q" default "" "$QUERIES" 0 0 "$TOKEN" >>"$R"
  search_table "$BIG" "$R"
fi
