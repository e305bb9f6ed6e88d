#!/usr/bin/env bash
# Latency from an ingest (an anchor's opportunity POSTed to the API) to the
# instant webhook arriving at a receiver on 127.0.0.1, on the demo data.
# Prints each of N runs and the median, in milliseconds.
# Usage: benches/instant_webhook.sh [N]   (from the repository root)
set -euo pipefail
N=${1:-5}
BIN=./target/release/sebroker
[ -x "$BIN" ] || cargo build --release
TMP=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$TMP"' EXIT
# The receiver: records when an alert about a posted notice arrives.
python3 - "$TMP/port" "$TMP/arrivals" <<'PY' &
import http.server, sys, time
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get('Content-Length', 0)))
        # Only the alerts about the notices this script posts count.
        if b'Community cafe catering and meals' in body:
            with open(sys.argv[2], 'a') as f: f.write('%.6f\n' % time.time())
        self.send_response(200); self.end_headers()
    def log_message(self, *a): pass
s = http.server.HTTPServer(('127.0.0.1', 0), H)
open(sys.argv[1], 'w').write(str(s.server_address[1]))
s.serve_forever()
PY
for _ in $(seq 1 50); do [ -s "$TMP/port" ] && break; sleep 0.1; done
PORT=$(cat "$TMP/port")
TOKEN=instant-webhook-bench-token
printf "admin_token = '%s'\n[alerts]\nwebhook_allow = ['127.0.0.1']\n" "$TOKEN" > "$TMP/config.toml"
"$BIN" --config "$TMP/config.toml" serve --demo --addr 127.0.0.1:0 > "$TMP/out" 2>/dev/null &
for _ in $(seq 1 100); do grep -q listening "$TMP/out" && break; sleep 0.1; done
URL=$(awk '/listening/ {print $NF}' "$TMP/out")
AUTH="Authorization: Bearer $TOKEN"
curl -sf -X PUT -H "$AUTH" -H 'Content-Type: application/json' \
  -d "{\"frequency\":\"instant\",\"threshold\":0.3,\"webhook_url\":\"http://127.0.0.1:$PORT/hook\"}" \
  "$URL/api/v1/members/m-0013/alert-settings" > /dev/null
: > "$TMP/arrivals"
for i in $(seq 1 "$N"); do
  before=$(wc -l < "$TMP/arrivals")
  body="{\"anchor\":\"Bench Council (fictional)\",\"reference\":\"BENCH-$i-$RANDOM\",\"title\":\"Community cafe catering and meals $i\",\"description\":\"Catering, cafe and meal preparation for a community hub in Walsall.\",\"cpv\":[\"55520000\"],\"value_min_gbp\":20000,\"value_max_gbp\":60000,\"deadline\":\"2027-06-30\",\"places\":[\"WS1\"],\"type\":\"open\",\"vcse_suitable\":true}"
  start=$(python3 -c 'import time; print("%.6f" % time.time())')
  curl -sf -X POST -H "$AUTH" -H 'Content-Type: application/json' -H "Idempotency-Key: bench-$i-$RANDOM" -d "$body" \
    "$URL/api/v1/anchors/bench-council/opportunities" > /dev/null
  for _ in $(seq 1 100); do [ "$(wc -l < "$TMP/arrivals")" -gt "$before" ] && break; sleep 0.02; done
  arrived=$(tail -1 "$TMP/arrivals")
  python3 -c "print('run $i: %.1f ms' % ((${arrived:-0} - $start) * 1000))"
done
