#!/usr/bin/env bash
# End-to-end benchmark: `racecap analyze` against `tcpdump -r` (and
# `tshark -z conv,tcp` once, when installed) on a ~1 GB synthetic capture with
# a known number of keep-alive races, and on a ~200 MB mix of the lab's real
# recordings (scripts/real-mix.sh). See docs/performance.md.
#
#   scripts/bench.sh [RUNS]            # RUNS defaults to 5 (1..50)
#
# Environment (all optional):
#   BENCH_DIR      work dir for the capture and the logs (default target/bench);
#                  the capture is generated once and reused while it exists
#   CONNECTIONS    generator connections   (default 100000)
#   REQUESTS       requests per connection (default 10)
#   RACE_FRACTION  share ending in a race  (default 0.05)
#   RUN_TIMEOUT    seconds after which one measured run is killed (default 900)
#   NO_TSHARK=1    skip the (slow, memory-hungry) tshark run
#   NO_PERF=1      skip the one run per capture under `perf record` that
#                  splits racecap's CPU by thread and by user/kernel
#                  (skipped anyway when perf is missing or not allowed)
#   MIX_MB         size of the real-traffic mix in MB (default 200; 0 skips it)
#   RACECAP_BIN    a racecap binary to measure instead of building one (to
#                  compare builds of two commits on the same capture)
#   CARGO_TARGET_DIR is honoured when locating the release binary.
#
# What it does: builds racecap in release; generates the capture with
# examples/synth.rs (deterministic: same parameters, same bytes); reads it
# once to warm the page cache and to check that racecap's JSON report finds
# exactly the generator's race count and packet count (fails otherwise);
# then runs racecap and tcpdump alternately RUNS times each, each under
# /usr/bin/time -v, and tshark once; then the same two on the real mix
# (generated once, checked only for its packet count: real traffic has no
# known race count); and prints a Markdown table of medians per capture.
#
# Run it on an otherwise idle machine: it measures wall time, and anything
# else running (a build, another benchmark) shows up in the numbers. The
# script does not check for that; it prints the load average before and
# after so that a noisy run can be recognised.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${1:-5}
if ! [[ "$runs" =~ ^[0-9]+$ ]] || ((runs < 1 || runs > 50)); then
  echo "usage: scripts/bench.sh [RUNS]  (RUNS: 1..50)" >&2
  exit 2
fi
work=${BENCH_DIR:-target/bench}
connections=${CONNECTIONS:-100000}
requests=${REQUESTS:-10}
fraction=${RACE_FRACTION:-0.05}
run_timeout=${RUN_TIMEOUT:-900}
target_dir=${CARGO_TARGET_DIR:-target}
bin=${RACECAP_BIN:-$target_dir/release/racecap}

[ -x /usr/bin/time ] || { echo "bench: /usr/bin/time is missing (apt-get install time)" >&2; exit 2; }
command -v tcpdump >/dev/null || { echo "bench: tcpdump is missing (apt-get install tcpdump)" >&2; exit 2; }
command -v python3 >/dev/null || { echo "bench: python3 is missing (reads the JSON report)" >&2; exit 2; }
mkdir -p "$work"

# --- build and generate ------------------------------------------------------
if [ -n "${RACECAP_BIN:-}" ]; then
  [ -x "$bin" ] || { echo "bench: RACECAP_BIN=$bin is not an executable" >&2; exit 2; }
  built="given binary $bin"
else
  # What is built: the commit, and whether the work tree had changes then.
  built="work tree at $(git describe --always --dirty 2>/dev/null || echo 'unknown commit')"
  echo "== building racecap (release)" >&2
  cargo build --release --quiet --bin racecap
fi

# Named after its parameters and the generator's source, so that a changed
# generator makes a new capture instead of reusing a stale one.
generator=$(cat tests/support/synth.rs examples/synth.rs | sha256sum | cut -c1-8)
cap="$work/synth-c${connections}-r${requests}-f${fraction}-g${generator}.pcap"
meta="$cap.txt"
if [ ! -s "$cap" ] || [ ! -s "$meta" ]; then
  echo "== generating $cap (once; reused afterwards)" >&2
  rm -f "$cap" "$meta"
  cargo run --release --quiet --example synth -- \
    --connections "$connections" --requests "$requests" \
    --race-fraction "$fraction" --out "$cap.tmp" 2>"$meta.tmp"
  mv "$cap.tmp" "$cap"
  mv "$meta.tmp" "$meta"
fi
# "wrote FILE: N connections, P packets, B bytes of frames, K keep-alive races"
line=$(grep '^wrote ' "$meta")
packets=$(sed -E 's/.*: [0-9]+ connections, ([0-9]+) packets,.*/\1/' <<<"$line")
races=$(sed -E 's/.*, ([0-9]+) keep-alive races.*/\1/' <<<"$line")
[[ "$packets" =~ ^[0-9]+$ && "$races" =~ ^[0-9]+$ ]] || {
  echo "bench: cannot read the generator's counts from $meta" >&2
  exit 1
}
size=$(stat -c %s "$cap")

# The real mix, named after its size and the recordings and script it is
# made from (changed recordings make a new file).
mix_mb=${MIX_MB:-200}
[[ "$mix_mb" =~ ^[0-9]+$ ]] || { echo "bench: MIX_MB must be a number" >&2; exit 2; }
if ((mix_mb > 0)); then
  recordings=$(cat fixtures/lab/*.pcap scripts/real-mix.sh | sha256sum | cut -c1-8)
  mix="$work/real-mix-${mix_mb}mb-g${recordings}.pcap"
  if [ ! -s "$mix" ] || [ ! -s "$mix.txt" ]; then
    echo "== generating $mix (once; reused afterwards)" >&2
    scripts/real-mix.sh "$mix" "$mix_mb" 2>"$mix.txt"
  fi
  # "wrote FILE: N packets, B bytes, R rounds"
  mix_packets=$(sed -nE 's/^wrote .*: ([0-9]+) packets,.*/\1/p' "$mix.txt")
  [[ "$mix_packets" =~ ^[0-9]+$ ]] || { echo "bench: cannot read $mix.txt" >&2; exit 1; }
  mix_size=$(stat -c %s "$mix")
fi

# --- warm-up and correctness check -------------------------------------------
echo "== warm-up: reading the capture, checking racecap's report" >&2
cat "$cap" >/dev/null
report="$work/report.json"
"$bin" analyze "$cap" --format json -o "$report"
read -r got_races got_packets < <(python3 - "$report" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
races = sum(1 for f in r["findings"] if f["verdict"] == "keepalive_race")
print(races, r["capture"]["packets"])
EOF
)
if [ "$got_races" != "$races" ] || [ "$got_packets" != "$packets" ]; then
  echo "bench: FAIL: racecap found $got_races races in $got_packets packets;" \
    "the generator wrote $races races in $packets packets" >&2
  exit 1
fi
echo "== racecap: $got_races races in $got_packets packets, as generated" >&2
if ((mix_mb > 0)); then
  cat "$mix" >/dev/null
  "$bin" analyze "$mix" --format json -o "$work/report-mix.json"
  got=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["capture"]["packets"])' "$work/report-mix.json")
  [ "$got" = "$mix_packets" ] || {
    echo "bench: FAIL: racecap read $got packets of the real mix; it holds $mix_packets" >&2
    exit 1
  }
fi

# --- measured runs -------------------------------------------------------------
logs="$work/logs"
rm -rf "$logs"
mkdir -p "$logs"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

# measure NAME I CMD...: one run under /usr/bin/time -v; output to /dev/null.
measure() {
  local name=$1 i=$2
  shift 2
  echo "   $name run $i" >&2
  /usr/bin/time -v -o "$logs/$name.$i.time" \
    timeout "$run_timeout" "$@" >/dev/null 2>"$logs/$name.$i.err"
}

for ((i = 1; i <= runs; i++)); do
  measure racecap "$i" "$bin" analyze "$cap" --format json -o /dev/null
  measure tcpdump "$i" tcpdump -r "$cap" -w /dev/null
done
if ((mix_mb > 0)); then
  for ((i = 1; i <= runs; i++)); do
    measure racecap-mix "$i" "$bin" analyze "$mix" --format json -o /dev/null
    measure tcpdump-mix "$i" tcpdump -r "$mix" -w /dev/null
  done
fi
have_tshark=0
if [ "${NO_TSHARK:-0}" != 1 ] && command -v tshark >/dev/null; then
  have_tshark=1
  if ! measure tshark 1 tshark -q -z conv,tcp -r "$cap"; then
    echo "bench: tshark failed (see $logs/tshark.1.err); left out of the table" >&2
    have_tshark=0
  fi
fi
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# --- where racecap's CPU goes, by thread -----------------------------------
# Sampled (task-clock), so that the kernel's part shows: callgrind counts
# user-space instructions only and misses the reader's read() of the file,
# which is about a quarter of racecap's CPU on the synthetic capture.
# threads CAPTURE -> "analysis A s, reader R s (kernel K s)"
threads() {
  local data=$logs/perf.data
  perf record -q -F 1999 -e task-clock -o "$data" -- \
    "$bin" analyze "$1" --format json -o /dev/null >/dev/null 2>&1 || return 1
  perf report -i "$data" --stdio --no-children --sort comm,dso -g none 2>/dev/null | awk '
    /^# Event count/ { total = $NF / 1e9 }
    /^ *[0-9.]+%/ {
      pct = $1; sub("%", "", pct); s = pct / 100 * total
      if ($2 == "racecap-reader") { r += s; if ($3 == "[kernel.kallsyms]") k += s }
      else a += s
    }
    END { if (total > 0) printf "analysis %.2f s, reader %.2f s (of it the kernel, reading the file: %.2f s)\n", a, r, k }'
}
split_synth="" split_mix=""
if [ "${NO_PERF:-0}" != 1 ] && command -v perf >/dev/null; then
  split_synth=$(threads "$cap" || true)
  ((mix_mb > 0)) && split_mix=$(threads "$mix" || true)
fi

# --- table -----------------------------------------------------------------------
# Per run: wall seconds, CPU seconds (user + sys), peak RSS in KiB.
stats() {
  awk '
    /Elapsed \(wall clock\)/ {
      n = split($NF, p, ":"); w = 0
      for (k = 1; k <= n; k++) w = w * 60 + p[k]
    }
    /User time \(seconds\)/   { c += $NF }
    /System time \(seconds\)/ { c += $NF }
    /Maximum resident set size/ { r = $NF }
    END { printf "%.2f %.2f %d\n", w, c, r }
  ' "$1"
}
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

summary() { # NAME -> "runs median_wall min_wall max_wall median_cpu max_rss_kib"
  local name=$1 f
  for f in "$logs/$name".*.time; do stats "$f"; done >"$logs/$name.runs"
  printf '%s %s %s %s %s %s\n' \
    "$(wc -l <"$logs/$name.runs")" \
    "$(cut -d' ' -f1 "$logs/$name.runs" | median)" \
    "$(cut -d' ' -f1 "$logs/$name.runs" | sort -g | head -1)" \
    "$(cut -d' ' -f1 "$logs/$name.runs" | sort -g | tail -1)" \
    "$(cut -d' ' -f2 "$logs/$name.runs" | median)" \
    "$(cut -d' ' -f3 "$logs/$name.runs" | sort -g | tail -1)"
}

# table TITLE SIZE PACKETS BASE TOOL...: one row per tool, wall time
# relative to BASE's median.
table() {
  local title=$1 sz=$2 pk=$3 base=$4 t n med lo hi cpu rss base_median
  shift 4
  read -r _ base_median _ < <(summary "$base")
  echo
  echo "$title"
  echo
  echo "| tool | runs | median wall s | min–max s | median CPU s | packets/s | MB/s | peak RSS MiB | wall vs tcpdump |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
  for t in "$@"; do
    read -r n med lo hi cpu rss < <(summary "$t")
    awk -v t="${t%-mix}" -v n="$n" -v med="$med" -v lo="$lo" -v hi="$hi" -v cpu="$cpu" -v rss="$rss" \
      -v pk="$pk" -v sz="$sz" -v base="$base_median" 'BEGIN {
        printf "| %s | %d | %.2f | %.2f–%.2f | %.2f | %.2f M | %.0f | %.1f | %.2f× |\n",
          t, n, med, lo, hi, cpu, pk / med / 1e6, sz / med / 1e6, rss / 1024, med / base
      }'
  done
}

tools=(racecap tcpdump)
((have_tshark)) && tools+=(tshark)

echo
echo "racecap: $built, built $(date -u -r "$bin" '+%Y-%m-%d %H:%M UTC')"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) memory"
echo "versions: $("$bin" --version); tcpdump $(tcpdump --version 2>&1 | awk 'NR == 1 { print $3 }')$( ((have_tshark)) && echo "; tshark $(tshark --version 2>/dev/null | awk 'NR == 1 { print $3 }')")"
echo "load average (1, 5, 15 min): before $load_before, after $load_after"
table "synthetic: $(basename "$cap"): $size bytes, $packets packets, $races keep-alive races" \
  "$size" "$packets" tcpdump "${tools[@]}"
if ((mix_mb > 0)); then
  table "real mix: $(basename "$mix"): $mix_size bytes, $mix_packets packets" \
    "$mix_size" "$mix_packets" tcpdump-mix racecap-mix tcpdump-mix
fi
if [ -n "$split_synth" ]; then
  echo
  echo "racecap's CPU by thread (one run under perf record, task-clock samples):"
  echo "synthetic: $split_synth"
  [ -n "$split_mix" ] && echo "real mix: $split_mix"
fi
echo
echo "wall vs tcpdump = median wall time / tcpdump's median wall time (below 1: faster than tcpdump)."
echo "Per-run /usr/bin/time -v output: $logs"
