#!/usr/bin/env bash
# A paper page with 50 worst-case comments under wrk (64 connections), next to a static copy
# of the same bytes served by the same binary (issue 13, item 1: target ≥ 3,000 req/s).
#
#   scripts/bench-comments.sh [PAPERBOY_BINARY] [DATA_DIR]
#
# Without a binary, builds the release one (cargo build --release -p paperboy). DATA_DIR (a
# fresh temporary one by default; it must not hold another Paperboy) gets one paper, five
# accounts, and 50 comments posted through the real HTML forms (sign in, CSRF token, the
# comment form), 10 per account as the rate limit allows. Each comment is under 10,000
# characters and built to be as costly as possible: deep braces, nested exponents, a \sqrt
# chain, 200-deep lists and quotes, brackets, many formulas, a long line. Then it prints
# requests/s and p99 for the paper page (first page of threads), its second page, and the
# static copy. DURATION (default 10s) sets each run's length. Needs wrk, curl, python3.
set -euo pipefail
bin=${1:-}
data=${2:-}
duration=${DURATION:-10s}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
cd "$(dirname "$0")/.."
work=$(mktemp -d)
if [ -z "$bin" ]; then
  cargo build --release -q -p paperboy
  target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
  # A private copy: another checkout sharing the target folder may rebuild it meanwhile.
  cp "$target_dir/release/paperboy" "$work/paperboy"
  bin="$work/paperboy"
fi
[ -n "$data" ] || data="$work/data"
mkdir -p "$data/public"
server=
trap '[ -n "$server" ] && kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
export PAPERBOY_DATA_DIR="$data"
unset PAPERBOY_DATABASE_URL
export RUST_LOG=${RUST_LOG:-warn}
paper=2510.00001

# The paper, imported from a one-line arXiv JSON Lines file.
python3 - "$work/paper.jsonl" "$paper" <<'PY'
import json, sys
path, pid = sys.argv[1], sys.argv[2]
line = {"id": pid, "authors": "Ada Lovelace", "title": "A paper with a long thread",
        "categories": "cs.CL", "abstract": "We study comments.",
        "versions": [{"version": "v1", "created": "Mon, 27 Oct 2025 10:00:00 GMT"}],
        "update_date": "2025-10-27", "authors_parsed": [["Lovelace", "Ada", ""]]}
open(path, "w").write(json.dumps(line) + "\n")
PY
"$bin" import "$work/paper.jsonl" >/dev/null
for i in 1 2 3 4 5; do
  PAPERBOY_PASSWORD="bench password $i" "$bin" user create "bench$i" --email "bench$i@example.org" >/dev/null
done

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin" serve --no-sync --no-digest --insecure-cookies --addr "127.0.0.1:$port" >"$work/serve.log" 2>&1 &
server=$!
base="http://127.0.0.1:$port"
for _ in $(seq 100); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.2; done
curl -sf "$base/healthz" >/dev/null || { cat "$work/serve.log"; exit 1; }

# The worst-case comments, one file each (varied so no two are the same).
python3 - "$work" <<'PY'
import sys
work = sys.argv[1]
for n in range(50):
    parts = [
        "$" + "{" * (300 + n) + "x" + "}" * (300 + n) + "$",
        "$" + "x^{" * (150 + n) + "x" + "}" * (150 + n) + "$",
        "$" + "\\sqrt" * (200 + n) + "x$",
        "- " * 200 + "deep",
        ">" * 200 + " quoted",
        "[" * 500,
        "$x_{%d}$ " % n * 100,
        "*a* **b** `c` " * 60,
    ]
    s = "\n\n".join(parts) + "\n\n"
    s += "a" * (9_990 - len(s))
    assert len(s) < 10_000
    open(f"{work}/comment{n}.md", "w").write(s)
PY

token() { # the CSRF token of a page, from its form
  grep -o 'name="csrf_token" value="[^"]*"' | head -1 | sed 's/.*value="\([^"]*\)"/\1/'
}
n=0
for i in 1 2 3 4 5; do
  jar="$work/cookies$i"
  csrf=$(curl -sf -c "$jar" -b "$jar" "$base/signin" | token)
  code=$(curl -s -o /dev/null -w '%{http_code}' -c "$jar" -b "$jar" \
    --data-urlencode "csrf_token=$csrf" --data-urlencode "username=bench$i" \
    --data-urlencode "password=bench password $i" "$base/signin")
  [ "$code" = 303 ] || { echo "sign-in of bench$i answered $code" >&2; exit 1; }
  for _ in $(seq 10); do
    csrf=$(curl -sf -c "$jar" -b "$jar" "$base/papers/$paper" | token)
    code=$(curl -s -o /dev/null -w '%{http_code}' -c "$jar" -b "$jar" \
      --data-urlencode "csrf_token=$csrf" --data-urlencode "body@$work/comment$n.md" \
      "$base/papers/$paper/comments")
    [ "$code" = 303 ] || { echo "comment $n answered $code" >&2; exit 1; }
    n=$((n + 1))
  done
done
stored=$(curl -sf "$base/papers/$paper" | grep -o '[0-9]* comments</span>' || true)
echo "posted $n comments ($stored)"

curl -sf "$base/papers/$paper" -o "$data/public/paper.html"
curl -sf "$base/papers/$paper?p=1" -o "$data/public/paper-p1.html"

run() { # prints "rps p99ms"
  wrk -t2 -c64 -d"$duration" --latency "$1" | awk '
    /Requests\/sec/ { rps = $2 }
    / 99%/ { v = $2; if (v ~ /ms$/) { sub(/ms/, "", v) } else if (v ~ /us$/) { sub(/us/, "", v); v = v / 1000 } else if (v ~ /s$/) { sub(/s/, "", v); v = v * 1000 } p99 = v }
    END { printf "%.0f %.2f\n", rps, p99 }'
}
printf '%-34s %10s %10s %8s\n' page req/s p99_ms ratio
for kind in paper paper-p1; do
  if [ "$kind" = paper ]; then url="$base/papers/$paper"; else url="$base/papers/$paper?p=1"; fi
  read -r rps p99 < <(run "$url")
  read -r srps sp99 < <(run "$base/public/$kind.html")
  size=$(stat -c %s "$data/public/$kind.html")
  printf '%-34s %10s %10s %8s\n' "$kind ($size bytes)" "$rps" "$p99" "$(python3 -c "print(f'{$rps/$srps:.2f}')")"
  printf '%-34s %10s %10s %8s\n' "  static copy" "$srps" "$sp99" "1.00"
done
