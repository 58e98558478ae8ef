#!/usr/bin/env bash
# How evenly the analysis divides when split across threads by flow hash
# (issue 22), measured before the split is built: examples/split.rs routes
# each frame of a capture to one of K parts and analyses one part; this
# script runs every part of each K under callgrind, counting only the
# analysis (`Analyzer::frame`, decoding included), and prints a Markdown
# table per capture. See docs/performance.md ("How the wall time scales").
#
#   scripts/split-sim.sh [CAPTURE...]
#
# Without captures: a synthetic one of 10 000 connections (generated once
# into BENCH_DIR by examples/synth.rs) and the real mix (scripts/real-mix.sh,
# 200 MB, as scripts/bench.sh makes it).
#
# Environment (optional):
#   BENCH_DIR  work dir (default target/bench)
#   PARTS      the values of K (default "1 2 4 8")
#   KEYS       what is hashed: flow (the 4-tuple), pair (the two addresses)
#              (default "flow pair")
#   JOBS       callgrind runs at once (default: the number of cores)
#
# Each part's run reads and routes the whole capture (not counted) and
# analyses its own frames (counted). The critical path of K parts is the
# largest part; "balance" is the largest part over the mean. The parts'
# reports are not merged: this measures the work, not a report.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v valgrind >/dev/null || { echo "split-sim: valgrind is missing (apt-get install valgrind)" >&2; exit 2; }
work=${BENCH_DIR:-target/bench}
parts_list=${PARTS:-1 2 4 8}
keys=${KEYS:-flow pair}
parallel=${JOBS:-$(nproc)}
mkdir -p "$work"

echo "== building examples/split.rs and examples/synth.rs (release)" >&2
cargo build --release --quiet --example split --example synth
target_dir=${CARGO_TARGET_DIR:-target}
split="$target_dir/release/examples/split"

captures=("$@")
if ((${#captures[@]} == 0)); then
  generator=$(cat tests/support/synth.rs examples/synth.rs | sha256sum | cut -c1-8)
  synth="$work/synth-c10000-r10-f0.05-g${generator}.pcap"
  if [ ! -s "$synth" ]; then
    echo "== generating $synth (once)" >&2
    "$target_dir/release/examples/synth" --connections 10000 --requests 10 \
      --race-fraction 0.05 --out "$synth.tmp" 2>/dev/null
    mv "$synth.tmp" "$synth"
  fi
  recordings=$(cat fixtures/lab/*.pcap scripts/real-mix.sh | sha256sum | cut -c1-8)
  mix="$work/real-mix-200mb-g${recordings}.pcap"
  if [ ! -s "$mix" ]; then
    echo "== generating $mix (once)" >&2
    scripts/real-mix.sh "$mix" 200 2>"$mix.txt"
  fi
  captures=("$synth" "$mix")
fi

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# One part under callgrind: prints "INSTRUCTIONS FRAMES" of its analysis.
part() {
  local cap=$1 k=$2 i=$3 key=$4 out=$5
  valgrind --tool=callgrind --toggle-collect='racecap::analyzer::Analyzer::frame' \
    --callgrind-out-file="$out.cg" "$split" --workers "$k" --only "$i" --key "$key" "$cap" \
    >/dev/null 2>"$out.err" || { cat "$out.err" >&2; return 1; }
  local ir frames
  ir=$(sed -nE 's/^==[0-9]+== Collected : ([0-9]+)$/\1/p' "$out.err")
  frames=$(sed -nE 's/^part [0-9]+ of [0-9]+ \([a-z]+\): ([0-9]+) of [0-9]+ frames.*/\1/p' "$out.err")
  [[ "$ir" =~ ^[0-9]+$ && "$frames" =~ ^[0-9]+$ ]] || { cat "$out.err" >&2; return 1; }
  echo "$ir $frames" >"$out"
  rm -f "$out.cg"
}

for cap in "${captures[@]}"; do
  [ -s "$cap" ] || { echo "split-sim: $cap: no such capture" >&2; exit 2; }
  echo "== $cap" >&2
  # Every run, JOBS at a time.
  runs=()
  for key in $keys; do
    for k in $parts_list; do
      [ "$k" = 1 ] && [ "$key" != "$(echo $keys | cut -d' ' -f1)" ] && continue
      for ((i = 0; i < k; i++)); do runs+=("$key $k $i"); done
    done
  done
  for r in "${runs[@]}"; do
    read -r key k i <<<"$r"
    while (($(jobs -rp | wc -l) >= parallel)); do wait -n; done
    part "$cap" "$k" "$i" "$key" "$scratch/$key-$k-$i" &
  done
  wait
  echo
  echo "$(basename "$cap")"
  echo
  echo "| key | parts | largest part, instructions | mean part | balance | largest part a packet | all parts a packet |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  for key in $keys; do
    for k in $parts_list; do
      [ -s "$scratch/$key-$k-0" ] || continue
      python3 - "$scratch" "$key" "$k" <<'EOF'
import sys
scratch, key, k = sys.argv[1], sys.argv[2], int(sys.argv[3])
parts = [tuple(map(int, open(f"{scratch}/{key}-{k}-{i}").read().split())) for i in range(k)]
ir = [p[0] for p in parts]
frames = sum(p[1] for p in parts)
mean = sum(ir) / k
# Thousands apart by a space, as docs/performance.md writes them.
n = lambda v, f: format(v, f).replace(",", " ")
print(f"| {key} | {k} | {n(max(ir)/1e6, ',.1f')} M | {n(mean/1e6, ',.1f')} M | {max(ir)/mean:.2f} "
      f"| {n(max(ir)/frames, ',.0f')} | {n(sum(ir)/frames, ',.0f')} |")
EOF
    done
  done
done
