#!/usr/bin/env bash
# Memory under anonymous traffic, on real data with the release build: imports the given files
# into a temporary directory with `paperboy import`, then runs the memory test
# (crates/paperboy/tests/memory.rs) against the release binary and that data: over a thousand
# distinct valid /api/daily_papers?month=…&limit=…&sort=… addresses, 150 concurrent failed
# sign-ins from 150 addresses, page views — reading VmRSS/VmHWM from /proc. Target: the peak
# stays under 400 MB on the shared 80k-paper data set.
#
#   scripts/bench-memory.sh ../shared/data/hf-daily-papers.jsonl.gz ../shared/data/arxiv-cs-2025-2026.jsonl.gz
#
# Environment: CATCH_UP=1 (serve with the search index not built yet), MONTHS (comma-separated months to ask the daily list for; default: the months
# 2024-06 to 2026-08 of the Hugging Face set), CACHE_MB is not set here: the defaults are
# measured.
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 DATA_FILE [MORE_FILES…]" >&2; exit 2; }
files=()
for f in "$@"; do files+=("$(realpath "$f")"); done
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/root/.cache/paperboy-target}"
cargo build --release -p paperboy --quiet
bin="$CARGO_TARGET_DIR/release/paperboy"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

echo "== importing ${files[*]} into $tmp"
"$bin" --data-dir "$tmp/data" import "${files[@]}" | tail -n 1
# The search index built first, so the figure is the traffic's, not the first catch-up's (a
# full index build beside the traffic adds its writer's memory; CATCH_UP=1 measures that).
if [ "${CATCH_UP:-0}" != 1 ]; then
  echo "== building the search index"
  "$bin" --data-dir "$tmp/data" reindex 2>&1 | tail -n 1
fi

if [ -z "${MONTHS:-}" ]; then
  MONTHS="$(python3 -c '
months = []
y, m = 2024, 6
while (y, m) <= (2026, 8):
    months.append(f"{y:04}-{m:02}")
    y, m = (y + 1, 1) if m == 12 else (y, m + 1)
print(",".join(months))')"
fi

echo "== driving the server ($bin) on the imported data"
PAPERBOY_MEMORY_BIN="$bin" PAPERBOY_MEMORY_DATA_DIR="$tmp/data" PAPERBOY_MEMORY_MONTHS="$MONTHS" \
  cargo test --release -p paperboy --test memory -- --nocapture 2>&1 | grep -E "memory \(MB\)|test result|panicked|peaked"
