#!/usr/bin/env bash
# Fuzzes racecap's untrusted-input paths with cargo-fuzz (libFuzzer), one
# target after the other, each for a fixed time budget, and prints the
# executions and crashes of each.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
#   SECONDS_PER_TARGET  default 60; the whole run takes about
#                       targets x (budget + a few seconds), plus one build
#   TARGET              reader, decode, pipeline, proxylog, h2, fragment (default: all six)
#
# Environment:
#   RACECAP_CORPUS   directory of public captures (*.pcap*) to seed from; they
#                    are copied into fuzz/corpus/ (ignored by git), never into
#                    the repository
#   FUZZ_SANITIZER   address (default) or none (about twice the exec/s; the
#                    library forbids unsafe code, ASan only guards dependencies)
#   FUZZ_KEEP_GOING  1: libFuzzer's fork mode (-fork=1 -ignore_crashes=1), so
#                    a run goes on after a crash and collects every artifact
#                    instead of stopping at the first
#   FUZZ_FLAGS       extra libFuzzer flags
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`). It asks for a nightly rustc;
# RUSTC_BOOTSTRAP=1 lets a stable toolchain do, and is set here.
#
# Crashes, timeouts and OOMs land in fuzz/artifacts/TARGET/. To reproduce or
# minimise one:
#   RUSTC_BOOTSTRAP=1 cargo fuzz run   TARGET fuzz/artifacts/TARGET/crash-...
#   RUSTC_BOOTSTRAP=1 cargo fuzz tmin  TARGET fuzz/artifacts/TARGET/crash-...
# Minimised reproducers are kept in fuzz/regressions/TARGET-NAME.bin (and
# are replayed first: those that pass seed the corpora, those that fail are
# reported).
set -euo pipefail

budget="${1:-60}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(reader decode pipeline proxylog h2 fragment)
fi
case "$budget" in
    '' | *[!0-9]*)
        echo "usage: $0 [SECONDS_PER_TARGET] [reader|decode|pipeline|proxylog|h2|fragment ...]" >&2
        exit 2
        ;;
esac
sanitizer="${FUZZ_SANITIZER:-address}"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "cargo-fuzz is missing: cargo install cargo-fuzz" >&2
    exit 2
fi
export RUSTC_BOOTSTRAP=1
# CaptureReader::new zeroes a 2 MiB buffer; with glibc's adaptive mmap
# threshold that is a 2 MiB memset per execution (~90 % of a small input's
# time without ASan). A fixed threshold serves it from fresh, already-zero
# pages instead. No effect under ASan, which has its own allocator.
export GLIBC_TUNABLES="${GLIBC_TUNABLES:-glibc.malloc.mmap_threshold=1048576}"

# --- seeds -----------------------------------------------------------------
shopt -s nullglob
fixtures=(fixtures/lab/*.pcap)
public=()
if [ -n "${RACECAP_CORPUS:-}" ]; then
    if [ -d "$RACECAP_CORPUS" ]; then
        public=("$RACECAP_CORPUS"/*.pcap*)
    else
        echo "RACECAP_CORPUS=$RACECAP_CORPUS is not a directory; ignored" >&2
    fi
fi
seeds="fuzz/corpus/.seeds"
rm -rf "$seeds"
echo "== seeds: ${#fixtures[@]} fixtures, ${#public[@]} public captures, synthetic ones"
cargo run --quiet --manifest-path fuzz/Cargo.toml --example seeds -- \
    "$seeds" "${fixtures[@]}" "${public[@]}"
for t in "${targets[@]}"; do
    dir="fuzz/corpus/$t"
    mkdir -p "$dir" "fuzz/artifacts/$t"
    case "$t" in
        reader | pipeline)
            for f in "${fixtures[@]}" "${public[@]}" "$seeds"/capture/*; do
                cp -n "$f" "$dir/seed-$(basename "$f")"
            done
            ;;
        decode)
            for f in "$seeds"/decode/*; do
                cp -n "$f" "$dir/seed-$(basename "$f")"
            done
            ;;
        fragment)
            for f in "$seeds"/fragment/*; do
                cp -n "$f" "$dir/seed-$(basename "$f")"
            done
            ;;
        h2)
            for f in "$seeds"/h2/*; do
                cp -n "$f" "$dir/seed-$(basename "$f")"
            done
            ;;
        proxylog)
            # The lab's nginx logs; the parsers' unit tests hold the other formats.
            for f in fixtures/lab/*.nginx-*.log; do
                if [ -s "$f" ]; then cp -n "$f" "$dir/seed-$(basename "$f")"; fi
            done
            ;;
        *)
            echo "unknown target $t (reader, decode, pipeline, proxylog, h2, fragment)" >&2
            exit 2
            ;;
    esac
done

# --- build once, then run each target --------------------------------------
echo "== build (sanitizer: $sanitizer)"
cargo fuzz build --sanitizer "$sanitizer"

# --- replay the regressions ----------------------------------------------
# Every fuzz/regressions/TARGET-*.bin (reader's and pipeline's are captures,
# so each of those two targets replays both). One that still fails is
# reported and kept out of the corpus (a failing seed would stop libFuzzer
# before it fuzzes); one that passes seeds the corpus.
host="$(rustc -vV | sed -n 's/^host: //p')"
still_failing=0
for t in "${targets[@]}"; do
    case "$t" in
        decode) regs=(fuzz/regressions/decode-*) ;;
        proxylog) regs=(fuzz/regressions/proxylog-*) ;;
        h2) regs=(fuzz/regressions/h2-*) ;;
        fragment) regs=(fuzz/regressions/fragment-*) ;;
        *) regs=(fuzz/regressions/reader-* fuzz/regressions/pipeline-*) ;;
    esac
    for f in "${regs[@]}"; do
        # cargo fuzz builds into CARGO_TARGET_DIR when it is set.
        if timeout 60 "${CARGO_TARGET_DIR:-fuzz/target}/$host/release/$t" -rss_limit_mb=2048 -timeout=10 \
            "$f" >/dev/null 2>&1; then
            cp -n "$f" "fuzz/corpus/$t/regression-$(basename "$f")"
        else
            echo "STILL FAILS: $t $f (RUSTC_BOOTSTRAP=1 cargo fuzz run $t $f)"
            still_failing=$((still_failing + 1))
        fi
    done
done

flags=(-max_total_time="$budget" -rss_limit_mb=2048 -max_len=262144 -timeout=10
    -print_final_stats=1)
if [ "${FUZZ_KEEP_GOING:-0}" = 1 ]; then
    flags+=(-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1)
fi
# shellcheck disable=SC2206
flags+=(${FUZZ_FLAGS:-})

logs="fuzz/artifacts/logs"
mkdir -p "$logs"
summary=()
status=0
for t in "${targets[@]}"; do
    log="$logs/$t.log"
    before=$(find "fuzz/artifacts/$t" -maxdepth 1 -type f | wc -l)
    echo "== $t: ${budget}s"
    start=$(date +%s)
    # The budget bounds libFuzzer; the outer timeout bounds everything else
    # (a stuck child in fork mode, a hang below libFuzzer's own -timeout).
    set +e
    timeout --kill-after=30 $((budget + 120)) \
        cargo fuzz run --sanitizer "$sanitizer" "$t" -- "${flags[@]}" >"$log" 2>&1
    rc=$?
    set -e
    secs=$(($(date +%s) - start))
    # Executions: the final stats, else the last status line (#N ...).
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    if [ -z "$execs" ]; then
        execs=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#')
    fi
    execs=${execs:-0}
    after=$(find "fuzz/artifacts/$t" -maxdepth 1 -type f | wc -l)
    found=$((after - before))
    if [ "$rc" -ne 0 ] || [ "$found" -gt 0 ]; then
        status=1
        grep -E '^(==[0-9]+== ?ERROR|thread .* panicked|SUMMARY|artifact_prefix|Test unit written)' "$log" |
            sort | uniq -c | head -20 || true
    fi
    summary+=("$(printf '%-9s %12s execs %8s exec/s %4s new artifacts  exit %3s  %4ss  log %s' \
        "$t" "$execs" "$((execs / (secs > 0 ? secs : 1)))" "$found" "$rc" "$secs" "$log")")
done

echo "== summary (sanitizer: $sanitizer, ${budget}s per target)"
printf '%s\n' "${summary[@]}"
if [ "$still_failing" -gt 0 ]; then
    echo "$still_failing regression replays still fail (see STILL FAILS above)"
    status=1
fi
exit "$status"
