#!/usr/bin/env bash
# Benchmarks the JSON API with wrk: /api/daily_papers?limit=50 and /api/papers/{id} over real
# data imported into a temporary directory. Target: >= 5,000 requests/s with p99 <= 20 ms at
# 64 connections (on the 2-core development machine).
#
#   scripts/bench-api.sh ../shared/data/hf-daily-papers.jsonl.gz [../shared/data/arxiv-cs-2025-2026.jsonl.gz]
#
# Environment: DURATION (default 20s), CONNECTIONS (64), THREADS (2), PORT (a free one).
# wrk is installed from Debian when missing.
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 HF_DAILY_FILE [MORE_FILES…]" >&2; exit 2; }
files=()
for f in "$@"; do files+=("$(realpath "$f")"); done
cd "$(dirname "$0")/.."

DURATION="${DURATION:-20s}"
CONNECTIONS="${CONNECTIONS:-64}"
THREADS="${THREADS:-2}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/root/.cache/paperboy-target}"

if ! command -v wrk >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi

cargo build --release -p paperboy --quiet
bin="$CARGO_TARGET_DIR/release/paperboy"

tmp="$(mktemp -d)"
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

echo "== importing ${files[*]} into $tmp"
"$bin" --data-dir "$tmp/data" import "${files[@]}" | tail -n 1

PORT="${PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}"
base="http://127.0.0.1:$PORT"
RUST_LOG=warn "$bin" --data-dir "$tmp/data" serve --no-sync --addr "127.0.0.1:$PORT" >"$tmp/serve.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do curl -fs "$base/healthz" >/dev/null && break; sleep 0.1; done
curl -fs "$base/healthz" >/dev/null

# 1,000 paper ids from the catalogue (following the Link header), requested at random.
python3 - "$base" >"$tmp/papers.lua" <<'PY'
import json, re, sys, urllib.request
base, path, ids = sys.argv[1], "/api/papers?limit=100", []
while path and len(ids) < 1000:
    with urllib.request.urlopen(base + path) as r:
        ids += [item["paper"]["id"] for item in json.load(r)]
        m = re.match(r"<([^>]+)>", r.headers.get("Link") or "")
        path = m.group(1) if m else None
print("local paths = {" + ",".join(f'"/api/papers/{i}"' for i in ids) + "}")
print("math.randomseed(42)")
print("request = function() return wrk.format(\"GET\", paths[math.random(#paths)]) end")
PY

run() {
  echo
  echo "== $1"
  shift
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$@" \
    | grep -E "Requests/sec|Latency |99%|Non-2xx|Socket errors|requests in"
}
run "GET /api/daily_papers?limit=50 (latest day)" "$base/api/daily_papers?limit=50"
run "GET /api/papers/{id} (1,000 ids at random)" -s "$tmp/papers.lua" "$base"
echo
echo "(machine: $(nproc) cores; wrk and the server share them; other work on the machine adds noise)"
