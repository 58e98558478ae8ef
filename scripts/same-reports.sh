#!/usr/bin/env bash
# Checks that the work tree's racecap writes exactly the reports of another
# build: same stdout, stderr, exit code (and evidence file) byte for byte, on
# the fixtures, the public capture corpus and three generated captures.
#
#   scripts/same-reports.sh [BASE]        # BASE: a git revision
#   scripts/same-reports.sh --bin PATH    # a prebuilt racecap binary as base
#
#   BASE defaults to the merge-base of `main` and HEAD (what the branch
#   started from). It is built in release in a temporary detached git
#   worktree (removed on exit), with its own target dir under
#   target/same-reports/ (kept, so later runs build incrementally; the usual
#   target dir is not touched). The work tree, uncommitted changes included,
#   is built with `cargo build --release` as usual (CARGO_TARGET_DIR is
#   honoured). `HEAD` as BASE on an unchanged tree must give 0 differences.
#
# Environment (optional):
#   RACECAP_CORPUS        the capture corpus (relative paths from the
#                         repository root; default ../shared/corpus, skipped
#                         with a note if that is missing)
#   SAME_REPORTS_TIMEOUT  seconds after which one racecap run is killed and
#                         counted as differing (default 60)
#   SAME_REPORTS_KEEP=1   keep the scratch folder with every run's outputs
#                         (else only those of runs that differ, until exit)
#
# Inputs: every fixtures/**/*.pcap{,ng}; every capture of the corpus; and,
# made once with the work tree's examples/synth.rs and read by both builds,
# a capture with thousands of races, one with more than 4000 idle closes
# per server (past the statistics' 4000-sample reservoir) and a SYN flood
# (20000 open connections, for memory eviction). Each is read with
# the table, --format json, jsonl, --connections (table and json) and
# --fail-on race / failure; the fixtures and the generated captures also with
# --server and --port (from the report's first server), from standard input,
# gzip-compressed, with --max-connections 3 and --max-memory 1 (eviction)
# and with --evidence (the two pcap files compared too); the lab fixtures
# also two at a time (backend and proxy captures of one scenario).
#
# Both binaries run in one scratch folder where fixtures/ and corpus/ link to
# the inputs, with the same relative paths, since reports name their inputs
# as given. On a difference it prints the command and the first lines of a
# unified diff; at the end `same-reports: N runs, M differ`. Exit status:
# 0 no difference, 1 some, 2 bad usage or a failed build.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
export LC_ALL=C

usage() {
  if [ "${1:-2}" = 0 ]; then
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
    exit 0
  fi
  echo "usage: scripts/same-reports.sh [BASE | --bin PATH]   (--help: what it does)" >&2
  exit 2
}

base_rev="" base_bin=""
case "${1:-}" in
  -h | --help) usage 0 ;;
  --bin)
    [ $# -eq 2 ] || usage
    base_bin=$2
    [ -f "$base_bin" ] && [ -x "$base_bin" ] || {
      echo "same-reports: --bin $base_bin is not an executable file" >&2
      exit 2
    }
    base_bin=$(cd "$(dirname "$base_bin")" && pwd)/$(basename "$base_bin")
    ;;
  -*) usage ;;
  "")
    [ $# -le 1 ] || usage
    base_rev=$(git merge-base main HEAD 2>/dev/null) || {
      echo "same-reports: no merge-base of main and HEAD; give BASE (a revision) or --bin PATH" >&2
      exit 2
    }
    ;;
  *)
    [ $# -eq 1 ] || usage
    base_rev=$(git rev-parse --verify --quiet "$1^{commit}") || {
      echo "same-reports: $1 is not a git revision" >&2
      exit 2
    }
    ;;
esac
run_timeout=${SAME_REPORTS_TIMEOUT:-60}
[[ "$run_timeout" =~ ^[0-9]+$ ]] && ((run_timeout > 0)) || {
  echo "same-reports: SAME_REPORTS_TIMEOUT must be a number of seconds" >&2
  exit 2
}
command -v python3 >/dev/null || { echo "same-reports: python3 is missing (reads the JSON report)" >&2; exit 2; }

scratch=$(mktemp -d -t same-reports.XXXXXX)
worktree=""
cleanup() {
  if [ -n "$worktree" ]; then
    git worktree remove --force "$worktree" >/dev/null 2>&1 || true
  fi
  if [ "${SAME_REPORTS_KEEP:-}" = 1 ]; then
    echo "same-reports: kept $scratch" >&2
  else
    rm -rf "$scratch"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$scratch/bin" "$scratch/in" "$scratch/out"

# --- builds ------------------------------------------------------------------
if [ -n "$base_rev" ]; then
  base_label="commit $(git log -1 --format='%h (%s)' "$base_rev")"
  echo "== building base $base_label (release, target/same-reports/target)" >&2
  worktree="$scratch/base"
  git worktree add --detach --quiet "$worktree" "$base_rev"
  mkdir -p target/same-reports
  (cd "$worktree" && CARGO_TARGET_DIR="$root/target/same-reports/target" \
    cargo build --release --quiet --locked --bin racecap) || {
    echo "same-reports: building $base_label failed" >&2
    exit 2
  }
  cp target/same-reports/target/release/racecap "$scratch/bin/base"
  git worktree remove --force "$worktree"
  worktree=""
else
  base_label="given binary $base_bin"
  cp "$base_bin" "$scratch/bin/base"
fi
work_label="work tree at $(git describe --always --dirty)"
echo "== building the $work_label (release)" >&2
target_dir=${CARGO_TARGET_DIR:-target}
cargo build --release --quiet --bin racecap --example synth || {
  echo "same-reports: building the work tree failed" >&2
  exit 2
}
target_dir=$(cd "$target_dir" && pwd)
cp "$target_dir/release/racecap" "$scratch/bin/work"
echo "== base: $base_label; compared with the $work_label" >&2

# --- inputs ------------------------------------------------------------------
in="$scratch/in"
ln -s "$root/fixtures" "$in/fixtures"
corpus=${RACECAP_CORPUS:-}
if [ -z "$corpus" ] && [ -d ../shared/corpus ]; then
  corpus=../shared/corpus
fi
corpus_files=()
if [ -z "$corpus" ]; then
  echo "== note: no corpus (RACECAP_CORPUS unset, no ../shared/corpus): skipped" >&2
elif [ ! -d "$corpus" ]; then
  echo "same-reports: RACECAP_CORPUS=$corpus is not a folder" >&2
  exit 2
else
  ln -s "$(cd "$corpus" && pwd)" "$in/corpus"
  mapfile -t corpus_files < <(cd "$in" && find -L corpus -type f \
    \( -name '*.pcap' -o -name '*.pcapng' -o -name '*.pcap.gz' -o -name '*.pcapng.gz' \) | sort)
  echo "== corpus: ${#corpus_files[@]} captures in $corpus" >&2
fi
mapfile -t fixture_files < <(find fixtures -type f \( -name '*.pcap' -o -name '*.pcapng' \) | sort)
[ ${#fixture_files[@]} -gt 0 ] || { echo "same-reports: no fixtures found" >&2; exit 2; }

# Generated once, by the work tree's generator, for both binaries. Races: a
# few thousand connections, half ending in a race. Reservoir: 4 servers
# with over 4000 idle closes (and 9000 reuse gaps) each. SYN flood: 20000
# connections open at once, the only input --max-memory 1 evicts from.
mkdir -p "$in/gen"
generate() {
  local name=$1
  shift
  cargo run --release --quiet --example synth -- "$@" --out "$in/gen/$name.pcap" \
    2>"$scratch/out/gen-$name.txt" || {
    cat "$scratch/out/gen-$name.txt" >&2
    echo "same-reports: generating gen/$name.pcap failed" >&2
    exit 2
  }
  echo "   $(cat "$scratch/out/gen-$name.txt")" >&2
}
echo "== generating captures (examples/synth.rs)" >&2
generate races --connections 4000 --requests 3 --race-fraction 0.5
generate reservoir --connections 36000 --requests 2 --race-fraction 0.05
generate syn-flood --syn-flood 20000
generated=(gen/races.pcap gen/reservoir.pcap gen/syn-flood.pcap)
# The reservoir capture is only worth its size past 4000 samples per server.
samples=$(cd "$in" && "$scratch/bin/work" analyze gen/reservoir.pcap --format json | python3 -c '
import json, sys
n = [(s.get("idle_timeout") or {}).get("n", 0) for s in json.load(sys.stdin)["servers"]]
print(min(n) if n else 0)') || samples=0
if ((samples > 4000)); then
  echo "   gen/reservoir.pcap: at least $samples idle closes per server (reservoir: 4000)" >&2
else
  echo "   note: gen/reservoir.pcap has only $samples idle closes on some server (< 4000):" \
    "the generator changed; raise its --connections" >&2
fi

# --- runs --------------------------------------------------------------------
runs=0 differ=0
started=$SECONDS

# same [--stdin FILE] ARGS...: runs `racecap ARGS` with each binary in the
# scratch input folder (FILE as standard input, relative to it), compares.
same() {
  local stdin=/dev/null
  if [ "$1" = --stdin ]; then
    stdin=$2
    shift 2
  fi
  runs=$((runs + 1))
  local o="$scratch/out/$runs" side rc
  mkdir -p "$o"
  for side in base work; do
    rc=0
    (cd "$in" && exec timeout "$run_timeout" "$scratch/bin/$side" "$@" \
      <"$stdin" >"$o/$side.stdout" 2>"$o/$side.stderr") || rc=$?
    echo "$rc" >"$o/$side.rc"
    if [ -e "$in/evidence.pcap" ]; then
      mv "$in/evidence.pcap" "$o/$side.evidence.pcap"
    fi
  done
  local problems=()
  local b w
  b=$(cat "$o/base.rc") w=$(cat "$o/work.rc")
  [ "$b" != 124 ] && [ "$w" != 124 ] || problems+=("timed out after ${run_timeout}s (exit codes: base $b, work $w)")
  [ "$b" = "$w" ] || problems+=("exit code: base $b, work $w")
  for stream in stdout stderr; do
    cmp -s "$o/base.$stream" "$o/work.$stream" || problems+=("$stream differs")
  done
  if [ -e "$o/base.evidence.pcap" ] || [ -e "$o/work.evidence.pcap" ]; then
    cmp -s "$o/base.evidence.pcap" "$o/work.evidence.pcap" 2>/dev/null ||
      problems+=("evidence.pcap differs ($(wc -c <"$o/base.evidence.pcap" 2>/dev/null || echo no) vs $(wc -c <"$o/work.evidence.pcap" 2>/dev/null || echo no) bytes)")
  fi
  if [ ${#problems[@]} -eq 0 ]; then
    [ "${SAME_REPORTS_KEEP:-}" = 1 ] || rm -rf "$o"
    return 0
  fi
  differ=$((differ + 1))
  local shown
  shown=$(printf ' %q' "$@")
  [ "$stdin" = /dev/null ] || shown+=" < $stdin"
  echo "DIFFERS: racecap$shown" >&2
  for p in "${problems[@]}"; do echo "  $p" >&2; done
  for stream in stdout stderr; do
    if ! cmp -s "$o/base.$stream" "$o/work.$stream"; then
      diff -u --label "base $stream" --label "work $stream" \
        "$o/base.$stream" "$o/work.$stream" | head -n 40 >&2 || true
    fi
  done
}

# The seven reports of every input.
reports() {
  local f=$1
  same analyze "$f"
  same analyze "$f" --format json
  same analyze "$f" --format jsonl
  same analyze "$f" --connections --format json
  same analyze "$f" --connections
  same analyze "$f" --fail-on race
  same analyze "$f" --fail-on failure
}

# Focus, other ways in, eviction and evidence.
more() {
  local f=$1 endpoint
  endpoint=$(cd "$in" && "$scratch/bin/work" analyze "$f" --format json 2>/dev/null | python3 -c '
import json, sys
s = json.load(sys.stdin).get("servers") or []
print(s[0]["endpoint"] if s else "")' 2>/dev/null) || endpoint=""
  if [ -n "$endpoint" ]; then
    same analyze "$f" --server "$endpoint" --format json
    same analyze "$f" --server "$endpoint"
    same analyze "$f" --port "${endpoint##*:}" --format json
  else
    echo "   note: $f has no server endpoint; --server and --port not run" >&2
  fi
  same --stdin "$f" analyze - --format json
  same --stdin "$f" analyze - --evidence evidence.pcap --format json
  mkdir -p "$in/gz/$(dirname "$f")"
  gzip -c "$in/$f" >"$in/gz/$f.gz"
  same analyze "gz/$f.gz" --format json
  same analyze "$f" --max-connections 3 --connections --format json
  same analyze "$f" --max-memory 1 --connections --format json
  same analyze "$f" --evidence evidence.pcap
}

echo "== fixtures: ${#fixture_files[@]} captures" >&2
for f in "${fixture_files[@]}"; do
  reports "$f"
  more "$f"
done
for backend in fixtures/lab/*.backend.pcap; do
  proxy=${backend%.backend.pcap}.proxy-any.pcap
  [ -f "$proxy" ] || continue
  same analyze "$backend" "$proxy"
  same analyze "$backend" "$proxy" --connections --format json --evidence evidence.pcap
done
echo "== generated: ${#generated[@]} captures" >&2
for f in "${generated[@]}"; do
  reports "$f"
  more "$f"
done
if [ ${#corpus_files[@]} -gt 0 ]; then
  echo "== corpus: ${#corpus_files[@]} captures" >&2
  for f in "${corpus_files[@]}"; do
    reports "$f"
  done
fi

echo "== $((SECONDS - started)) s of runs" >&2
echo "same-reports: $runs runs, $differ differ"
[ "$differ" -eq 0 ]
