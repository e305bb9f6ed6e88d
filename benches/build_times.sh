#!/bin/bash
# Cold and incremental build times of a checkout, as the README reports them.
#
#   benches/build_times.sh CHECKOUT FILE [FILE2]
#
# Builds CHECKOUT in its own empty target folder (CHECKOUT/target, removed
# first): `cargo build --release` cold, then again after touching FILE
# (the incremental case); the same for `cargo test --workspace --no-run`.
# With FILE2, both incremental builds once more after touching FILE2. With
# RUN_TESTS=1 it also times `cargo test --workspace` (built, then after a
# touch). Run it on a quiet machine: other builds skew every figure.
# To compare with an older commit: `git clone . /tmp/old && git -C /tmp/old
# checkout REV`, then run this on /tmp/old with the file's old path.
set -u
cd "$1"
export CARGO_TARGET_DIR="$1/target"
rm -rf "$CARGO_TARGET_DIR"
t() {
  local s e rc
  s=$(date +%s.%N)
  "$@" >/dev/null 2>&1
  rc=$?
  e=$(date +%s.%N)
  printf '%s rc=%s %.1fs\n' "$*" "$rc" "$(echo "$e - $s" | bc)"
}
echo "commit $(git rev-parse --short HEAD) $(date -Is) $(nproc) cores"
t cargo build --release
touch "$2"; t cargo build --release
t cargo test --workspace --no-run
touch "$2"; t cargo test --workspace --no-run
if [ -n "${RUN_TESTS:-}" ]; then
  t cargo test --workspace
  touch "$2"; t cargo test --workspace
fi
if [ -n "${3:-}" ]; then
  touch "$3"; t cargo build --release
  touch "$3"; t cargo test --workspace --no-run
fi
