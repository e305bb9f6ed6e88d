#!/usr/bin/env bash
#! The crash soak: the crash loop of tests/integration/crash.rs against the
#! release binary, CYCLES times (default 300), printing its figures.
#!
#!   benches/crash_soak.sh [CYCLES] [SEED]
#!
#! Each cycle starts `sebroker serve` on 127.0.0.1 (fresh data folder for the
#! run), lets three threads write cases/introductions/wins with idempotency
#! keys, kills the server with SIGKILL at a seeded random point, runs
#! `sebroker verify`, restarts and retries every unacknowledged write. At the
#! end every acknowledged write must be present exactly once and the totals
#! must equal the sum. Prints: cycles, jobs, writes acked, writes retried,
#! retries already stored before the kill, doubles (0), losses (0), elapsed.
set -euo pipefail
cd "$(dirname "$0")/.."
cycles="${1:-300}"
seed="${2:-20261201}"
: "${CARGO_TARGET_DIR:=target}"
export CARGO_TARGET_DIR
cargo build --release --bin sebroker
bin="$CARGO_TARGET_DIR/release/sebroker"
echo "crash soak: $cycles cycles, seed $seed, binary $bin ($(nproc) cores)"
SEBROKER_CRASH_BIN="$(realpath "$bin")" SEBROKER_CRASH_CYCLES="$cycles" SEBROKER_CRASH_SEED="$seed" \
  cargo test --test integration crash::acknowledged_writes_survive_kill_9_exactly_once -- --exact --nocapture 2>&1 \
  | grep -E "^crash loop:|panicked|test result" | sort -u
