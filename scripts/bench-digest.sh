#!/usr/bin/env bash
# Digest delivery benchmark: N confirmed subscribers (default 10,000); build the edition of the
# latest feed day and deliver every message to a local SMTP server (aiosmtpd, two processes
# sharing the port, storing raw messages) over 32 pooled connections, timing build + delivery.
# Target: under 60 s.
#
#   scripts/bench-digest.sh ../shared/data/hf-daily-papers.jsonl.gz [N]
#
# Needs Python with aiosmtpd (.ci/run prepares /root/.cache/paperboy-venv). Builds the release
# binary. Nothing is written outside a temporary folder.
set -euo pipefail
cd "$(dirname "$0")/.."

papers="${1:?usage: scripts/bench-digest.sh HF_DAILY_PAPERS_FILE [N]}"
n="${2:-10000}"
python="${PAPERBOY_TEST_PYTHON:-/root/.cache/paperboy-venv/bin/python}"
"$python" -c 'import aiosmtpd' || { echo "error: $python lacks aiosmtpd" >&2; exit 1; }
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/root/.cache/paperboy-target}"
cargo build --release --quiet -p paperboy
work="$(mktemp -d)"
# The target folder may be shared with other worktrees: keep this build's binary apart.
cp "$CARGO_TARGET_DIR/release/paperboy" "$work/paperboy"
bin="$work/paperboy"

sinks=()
cleanup() {
  for pid in "${sinks[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

export PAPERBOY_DATA_DIR="$work/data"
unset PAPERBOY_DATABASE_URL
export RUST_LOG=warn
port="$("$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
export PAPERBOY_SMTP_HOST=127.0.0.1 PAPERBOY_SMTP_PORT="$port" PAPERBOY_SMTP_CONNECTIONS=32
export PAPERBOY_MAIL_FROM="Paperboy <digest@papers.example.org>"
export PAPERBOY_BASE_URL="https://papers.example.org"

echo "importing $papers"
"$bin" import "$papers" >/dev/null
seq 1 "$n" | sed 's/.*/reader&@example.org/' >"$work/subscribers.txt"
"$bin" digest import-subscribers "$work/subscribers.txt"

mkdir -p "$work/mail"
for _ in 1 2; do
  "$python" crates/paperboy-testkit/src/smtp_sink.py 127.0.0.1 "$port" "$work/mail" --raw --reuse-port \
    >"$work/sink.$_.out" 2>&1 &
  sinks+=("$!")
done
for _ in $(seq 1 50); do
  [ "$(cat "$work"/sink.*.out 2>/dev/null | grep -c ready)" = 2 ] && break
  sleep 0.1
done

start=$(date +%s%N)
"$bin" digest build
"$bin" digest run --batch-size 1000
end=$(date +%s%N)

received=$(find "$work/mail" -name '*.eml' | wc -l)
ms=$(( (end - start) / 1000000 ))
echo "subscribers $n, messages received $received, build + delivery $((ms / 1000)).$(( (ms % 1000) / 100 )) s ($(( received * 1000 / (ms > 0 ? ms : 1) )) messages/s)"
[ "$received" -eq "$n" ] || { echo "error: expected $n messages" >&2; exit 1; }
