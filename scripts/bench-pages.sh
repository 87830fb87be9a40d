#!/usr/bin/env bash
# Page throughput: the daily feed page and a paper page under wrk (64 connections), next to a
# static file of the same size served by the same binary in the same run.
#
#   scripts/bench-pages.sh HF_DAILY_PAPERS.jsonl.gz [DAY] [PAPER_ID]
#
# Imports the file into a fresh data directory, serves it, and prints requests/s and p99 for
# each page and the ratio to the static baseline. Needs wrk (apt-get install wrk).
set -euo pipefail
data_file=${1:?usage: $0 HF_DAILY_PAPERS.jsonl.gz [DAY] [PAPER_ID]}
day=${2:-2025-10-06}
paper=${3:-2510.03230}
duration=${DURATION:-10s}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
cd "$(dirname "$0")/.."
cargo build --release -q -p paperboy
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
dir=$(mktemp -d)
# A private copy: another checkout sharing the target folder may rebuild it meanwhile.
cp "$target_dir/release/paperboy" "$dir/paperboy"
bin="$dir/paperboy"
server=
trap '[ -n "$server" ] && kill $server 2>/dev/null || true; rm -rf "$dir"' EXIT
"$bin" --data-dir "$dir" import "$data_file" >/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$dir/public"
"$bin" --data-dir "$dir" serve --no-sync --addr "127.0.0.1:$port" >/dev/null 2>&1 &
server=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done
base="http://127.0.0.1:$port"
curl -sf "$base/papers/date/$day" -o "$dir/public/feed.html"
curl -sf "$base/papers/$paper" -o "$dir/public/paper.html"

run() { # prints "rps p99ms"
  wrk -t2 -c64 -d"$duration" --latency "$1" | awk '
    /Requests\/sec/ { rps = $2 }
    / 99%/ { v = $2; if (v ~ /ms$/) { sub(/ms/, "", v) } else if (v ~ /us$/) { sub(/us/, "", v); v = v / 1000 } else if (v ~ /s$/) { sub(/s/, "", v); v = v * 1000 } p99 = v }
    END { printf "%.0f %.2f\n", rps, p99 }'
}
printf '%-28s %10s %10s %8s\n' page req/s p99_ms ratio
for kind in feed paper; do
  if [ "$kind" = feed ]; then url="$base/papers/date/$day"; else url="$base/papers/$paper"; fi
  read -r rps p99 < <(run "$url")
  read -r srps sp99 < <(run "$base/public/$kind.html")
  size=$(stat -c %s "$dir/public/$kind.html")
  printf '%-28s %10s %10s %8s\n' "$kind ($size bytes)" "$rps" "$p99" "$(python3 -c "print(f'{$rps/$srps:.2f}')")"
  printf '%-28s %10s %10s %8s\n' "  static copy" "$srps" "$sp99" "1.00"
done
