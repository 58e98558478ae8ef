#!/usr/bin/env bash
# Peak memory and CPU time of racecap on hostile inputs (issue 23, "Every
# promise under hostile input"): each shape is generated (small on disk, or
# by scripts/hostile/gen.py), run under /usr/bin/time -v, and its peak RSS
# and CPU seconds printed as a Markdown row. Compare two builds by running
# it with each (docs/performance.md keeps the table).
#
#   scripts/hostile-memory.sh [RACECAP_BIN] [SHAPE...]
#       RACECAP_BIN  default: target/release/racecap
#       SHAPE        default: all of them, in this order:
#
#   log-matching   20 k unanswered SYNs against 20 k nginx `connect() failed`
#                  lines, --max-memory 16 (candidates grew as lines x
#                  connections)
#   log-matching-80k  the same with 80 k of each (the time it takes)
#   pcapng-idbs    a gzip'd pcapng of 60 M interface description blocks
#                  (about 3 MB on disk) and no packet, --max-memory 16
#   long-log-line  a gzip'd proxy log holding one 1 GiB line (about 1 MB on
#                  disk) beside a real capture: the line must not be held
#   error-log      a 100 MB nginx error log (330 k error lines) beside a
#                  real capture, at the default budget
#   fin-pending    1 M connections whose client sent a request and FIN,
#                  never answered, at the default budget (256 MiB)
#   fin-pending-64 the same at --max-memory 64: what the process needs
#                  beyond the budget must not grow with it
#   syn-flood      1 M unanswered SYNs (examples/synth.rs), default budget
#   races-burst    80 k keep-alive races within 300 ms (the time it takes)
#   metrics-line   `capture --metrics-listen` on lo while a client sends an
#                  800 MiB request line without a newline (needs a build
#                  with the `live` feature and root; skipped else)
#
# Needs python3 and /usr/bin/time; syn-flood builds examples/synth.rs. A
# run past 15 minutes is stopped, and its row says so.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=${1:-${CARGO_TARGET_DIR:-target}/release/racecap}
shift || true
shapes=("$@")
if [ ${#shapes[@]} -eq 0 ]; then
    shapes=(log-matching log-matching-80k pcapng-idbs long-log-line error-log fin-pending fin-pending-64 syn-flood races-burst metrics-line)
fi
[ -x "$bin" ] || { echo "hostile-memory: no racecap at $bin (cargo build --release)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "hostile-memory: /usr/bin/time is missing (apt-get install time)" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
gen=scripts/hostile/gen.py

cells() {
  # Peak RSS in MiB and CPU seconds (user + system) from time -v's output.
  awk -F': ' '/Maximum resident set size/ {rss = $2 / 1024}
      /User time/ {cpu += $2} /System time/ {cpu += $2}
      END {printf "%.1f | %.1f", rss, cpu}' "$1"
}

peak() {
  # Both cells of one run (its exit code is not the point here).
  if ! timeout 900 /usr/bin/time -v "$@" >/dev/null 2>"$work/time.txt" &&
     ! grep -q "Maximum resident set size" "$work/time.txt"; then
    echo "stopped after 900 s | -"
    return
  fi
  cells "$work/time.txt"
}

row() {
  # One row: the shape, the size of its inputs on disk, the measurements.
  local name=$1 input=$2
  shift 2
  # shellcheck disable=SC2086 # several inputs in one word
  echo "| $name | $(du -ch $input | tail -1 | cut -f1) | $(peak "$@") |"
}

echo "| shape | input on disk | peak RSS (MiB) | CPU (s) |"
echo "|---|---:|---:|---:|"
for shape in "${shapes[@]}"; do
  case "$shape" in
    log-matching | log-matching-80k)
      n=20000
      [ "$shape" = log-matching-80k ] && n=80000
      python3 "$gen" syns "$work/syns.pcap" "$n"
      python3 "$gen" nginx-errors "$work/errors.log" "$n"
      row "$shape: $((n / 1000)) k unanswered SYNs x $((n / 1000)) k connect() failed lines, --max-memory 16" \
        "$work/syns.pcap $work/errors.log" \
        "$bin" analyze "$work/syns.pcap" --proxy-log "$work/errors.log" --max-memory 16
      ;;
    pcapng-idbs)
      python3 - "$work/idbs.pcapng.gz" <<'EOF'
import gzip, struct, sys
shb = struct.pack("<IIIHHqI", 0x0A0D0D0A, 28, 0x1A2B3C4D, 1, 0, -1, 28)
idb = struct.pack("<IIHHII", 1, 20, 1, 0, 65535, 20)
with gzip.open(sys.argv[1], "wb", compresslevel=9) as f:
    f.write(shb)
    chunk = idb * 100_000
    for _ in range(600):
        f.write(chunk)
EOF
      row "pcapng-idbs: 60 M interface description blocks, gzip'd, --max-memory 16" \
        "$work/idbs.pcapng.gz" "$bin" analyze "$work/idbs.pcapng.gz" --max-memory 16
      ;;
    long-log-line)
      python3 - "$work/long-line.log.gz" <<'EOF'
import gzip, sys
with gzip.open(sys.argv[1], "wb", compresslevel=9) as f:
    chunk = b"x" * (1 << 20)
    for _ in range(1024):
        f.write(chunk)
    f.write(b"\n")
EOF
      row "long-log-line: one 1 GiB line, gzip'd" "$work/long-line.log.gz" \
        "$bin" analyze fixtures/lab/get-races.backend.pcap --proxy-log "$work/long-line.log.gz" --proxy-log-format nginx-error
      ;;
    error-log)
      python3 "$gen" error-log-mb "$work/big-error.log" 100
      row "error-log: 100 MB of nginx error lines" "$work/big-error.log" \
        "$bin" analyze fixtures/lab/get-races.backend.pcap --proxy-log "$work/big-error.log"
      rm -f "$work/big-error.log"
      ;;
    fin-pending | fin-pending-64)
      [ -f "$work/fin.pcap" ] || python3 "$gen" fin-pending "$work/fin.pcap" 1000000
      if [ "$shape" = fin-pending ]; then
        row "fin-pending: 1 M connections, request and client FIN unanswered" "$work/fin.pcap" \
          "$bin" analyze "$work/fin.pcap"
      else
        row "fin-pending-64: the same, --max-memory 64" "$work/fin.pcap" \
          "$bin" analyze "$work/fin.pcap" --max-memory 64
      fi
      ;;
    syn-flood)
      cargo run --quiet --release --example synth -- --syn-flood 1000000 --out "$work/flood.pcap" 2>/dev/null
      row "syn-flood: 1 M unanswered SYNs" "$work/flood.pcap" "$bin" analyze "$work/flood.pcap"
      rm -f "$work/flood.pcap"
      ;;
    races-burst)
      python3 "$gen" races-burst "$work/burst.pcap" 80000
      row "races-burst: 80 k keep-alive races within 300 ms" "$work/burst.pcap" \
        "$bin" analyze "$work/burst.pcap"
      ;;
    metrics-line)
      # A build without the feature still takes the flags, and says so
      # only when asked to capture.
      said=$("$bin" capture -i lo --duration 1s 2>&1 >/dev/null || true)
      if [ "$(id -u)" != 0 ] || [[ "$said" == *"not in this build"* ]]; then
        echo "| metrics-line: 800 MiB request line to /metrics | - | skipped: needs the live feature and root | - |"
        continue
      fi
      port=$((20000 + RANDOM % 20000))
      /usr/bin/time -v "$bin" capture -i lo --metrics-listen "127.0.0.1:$port" --duration 20s \
        >/dev/null 2>"$work/time.txt" &
      cap=$!
      python3 - "$port" <<'EOF' || true
import socket, sys, time
# The endpoint listens once the capture has opened lo: wait for it.
for _ in range(100):
    try:
        s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
        break
    except ConnectionRefusedError:
        time.sleep(0.1)
chunk = b"G" * (1 << 20)
try:
    for _ in range(800):
        s.sendall(chunk)
except OSError:
    pass
time.sleep(1)
EOF
      wait "$cap" || true
      echo "| metrics-line: 800 MiB request line to /metrics | - | $(cells "$work/time.txt") |"
      ;;
    *)
      echo "hostile-memory: unknown shape $shape" >&2
      exit 2
      ;;
  esac
done
