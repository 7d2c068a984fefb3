#!/usr/bin/env bash
# Builds the fuzz targets and runs them one after another, one process each (the
# project's machines have 2 cores shared with other builds): fuzz/README.md.
#
#   fuzz/run.sh                 every target for 600 s each
#   fuzz/run.sh 30              every target for 30 s each (a smoke run)
#   fuzz/run.sh 600 policy      one target
#
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`) and runs on stable Rust through
# RUSTC_BOOTSTRAP=1 (cargo-fuzz passes nightly-only -Z flags). Stops at the first target
# that finds something (exit 1); the input is in fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-600}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(template policy scenarios gate_request)
export RUSTC_BOOTSTRAP=1
[ -d seeds ] || python3 make_seeds.py
cargo fuzz build
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t"
    echo "== $t: ${seconds}s" >&2
    set +e
    cargo fuzz run "$t" "corpus/$t" "seeds/$t" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 2>&1 |
        grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)|^stat::|ERROR|SUMMARY|Test unit written|panicked' >&2
    status=${PIPESTATUS[0]}
    set -e
    [ "$status" -eq 0 ] || { echo "== $t found something: fuzz/artifacts/$t/" >&2; exit 1; }
done
