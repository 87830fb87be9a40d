#!/usr/bin/env bash
# Search benchmark at scale: builds a catalogue of N papers (the shared real sets plus generated
# papers), imports it, times `paperboy reindex` (wall time and peak memory), then runs
# crates/paperboy-search/examples/bench.rs: keyword and hybrid latency, recommendations, ANN
# recall on the real embeddings, and SQLite FTS5 on the same corpus.
#
#   scripts/bench-search.sh ARXIV.jsonl.gz HF.jsonl.gz QUERIES.jsonl [N=1000000] [WORKDIR]
#
# QUERIES.jsonl: one {"text": …} per line (e.g. SciFact's queries-test.jsonl).
set -euo pipefail
arxiv=${1:?ARXIV.jsonl.gz}; hf=${2:?HF.jsonl.gz}; queries=${3:?QUERIES.jsonl}
n=${4:-1000000}; work=${5:-/tmp/paperboy-bench-$n}
here=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$here/target}
mkdir -p "$work"
# Two builds: `--example` alone would skip the binary. Copies, because a shared target
# directory's uplifted binaries may be overwritten by another checkout's build.
cargo build --release -p paperboy --bin paperboy --manifest-path "$here/Cargo.toml"
cp "$CARGO_TARGET_DIR/release/paperboy" "$work/paperboy"
cargo build --release -p paperboy-search --example bench --manifest-path "$here/Cargo.toml"
cp "$CARGO_TARGET_DIR/release/examples/bench" "$work/bench"
bin=$work/paperboy
if [ ! -f "$work/papers.jsonl.gz" ]; then
  python3 "$here/scripts/gen-papers.py" "$n" "$work/papers.jsonl.gz" "$arxiv" "$hf"
fi
if [ ! -f "$work/data/paperboy.sqlite" ]; then
  /usr/bin/time -f "import: %e s, peak %M KB" "$bin" --data-dir "$work/data" import "$work/papers.jsonl.gz" --batch-size 5000 >/dev/null
fi
/usr/bin/time -f "reindex: %e s, peak %M KB" "$bin" --data-dir "$work/data" reindex
"$work/bench" "$work/data" "$queries"
