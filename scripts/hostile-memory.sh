#!/usr/bin/env bash
# Peak memory of racecap on hostile inputs (issue "Every promise under
# hostile input"): each shape is generated small on disk, run under
# /usr/bin/time -v, and its peak RSS printed as a Markdown row. Compare two
# builds by running it with each (docs/performance.md keeps the table).
#
#   scripts/hostile-memory.sh [RACECAP_BIN]    # default: target/release/racecap
#
# Shapes so far:
#   long-log-line  a gzip'd proxy log holding one 1 GiB line (about 1 MB on
#                  disk) beside a real capture: the line must not be held.
#   pcapng-idbs    a gzip'd pcapng of 60 M interface description blocks
#                  (about 3 MB on disk) and no packet.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=${1:-${CARGO_TARGET_DIR:-target}/release/racecap}
[ -x "$bin" ] || { echo "hostile-memory: no racecap at $bin (cargo build --release)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "hostile-memory: /usr/bin/time is missing (apt-get install time)" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 - "$work/long-line.log.gz" <<'EOF'
import gzip, sys
with gzip.open(sys.argv[1], "wb", compresslevel=9) as f:
    chunk = b"x" * (1 << 20)
    for _ in range(1024):
        f.write(chunk)
    f.write(b"\n")
EOF

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

peak() {
  # Peak RSS in MiB of one run (its exit code is not the point here).
  /usr/bin/time -v "$@" >/dev/null 2>"$work/time.txt" || true
  awk -F: '/Maximum resident set size/ {printf "%.1f", $2 / 1024}' "$work/time.txt"
}

echo "| shape | input on disk | peak RSS (MiB) |"
echo "|---|---:|---:|"
size=$(du -h "$work/long-line.log.gz" | cut -f1)
echo "| long-log-line: one 1 GiB line, gzip'd | $size | $(peak "$bin" analyze fixtures/lab/get-races.backend.pcap --proxy-log "$work/long-line.log.gz" --proxy-log-format nginx-error) |"
size=$(du -h "$work/idbs.pcapng.gz" | cut -f1)
echo "| pcapng-idbs: 60 M interface description blocks, gzip'd | $size | $(peak "$bin" analyze "$work/idbs.pcapng.gz") |"
