#!/usr/bin/env bash
# Writes a benchmark capture of real traffic: the lab recordings in
# fixtures/lab/ (HTTP/1 through nginx, Apache, Caddy, gunicorn, uvicorn;
# TLS 1.2 and 1.3; h2c, gRPC and HAProxy's HTTP/2; the close shapes and the
# causes) one after another, repeated until the file is about SIZE_MB, as one
# classic pcap that tcpdump reads too. See docs/performance.md.
#
#   scripts/real-mix.sh OUT [SIZE_MB]     # SIZE_MB defaults to 200
#
# Each recording, in each round, is shifted in time to start 60 s after the
# previous one ended (past the flow table's grace period and any idle timer
# in the lab), and its IP addresses are XORed with a number of its own in
# their first two bytes (the same number for source and destination): no
# connection continues across two copies, while every address of one copy
# keeps its relations (the same server, the same client). Linux cooked v2
# frames (the proxies' `-i any` recordings) become Ethernet frames with the
# same EtherType, since a classic pcap has one link type. Deterministic: the
# same fixtures give the same bytes. Prints "wrote OUT: N packets, B bytes,
# R rounds" on stderr.
set -euo pipefail
cd "$(dirname "$0")/.."

[ $# -ge 1 ] && [ $# -le 2 ] || {
  echo "usage: scripts/real-mix.sh OUT [SIZE_MB]" >&2
  exit 2
}
out=$1
size_mb=${2:-200}
[[ "$size_mb" =~ ^[0-9]+$ ]] && ((size_mb >= 1)) || {
  echo "real-mix: SIZE_MB must be a positive integer" >&2
  exit 2
}
command -v python3 >/dev/null || { echo "real-mix: python3 is missing" >&2; exit 2; }

python3 - "$out" "$size_mb" fixtures/lab/*.pcap <<'EOF'
import struct, sys

out, size_mb, files = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
ETHERNET, LINUX_SLL2 = 1, 276
GAP_US = 60_000_000

def records(path):
    """(ts_us, frame bytes, original length) of a little-endian microsecond pcap."""
    b = open(path, "rb").read()
    magic, _, _, _, _, _, linktype = struct.unpack("<IHHiIII", b[:24])
    if magic != 0xA1B2C3D4 or linktype not in (ETHERNET, LINUX_SLL2):
        sys.exit(f"real-mix: {path}: not a little-endian microsecond pcap of Ethernet or SLL2")
    at, recs = 24, []
    while at + 16 <= len(b):
        sec, usec, caplen, origlen = struct.unpack("<IIII", b[at:at + 16])
        frame = b[at + 16:at + 16 + caplen]
        at += 16 + caplen
        if linktype == LINUX_SLL2:
            if len(frame) < 20:
                continue
            # 20-byte header, protocol first; Ethernet: 12 bytes of MACs, then it.
            frame = bytes(12) + frame[0:2] + frame[20:]
            origlen -= 6
        recs.append((sec * 1_000_000 + usec, frame, origlen))
    return recs

def ip_offset(frame):
    """Where the IP header starts in an Ethernet frame (VLAN tags peeled), or None."""
    at, proto = 14, frame[12:14]
    while proto in (b"\x81\x00", b"\x88\xa8") and len(frame) >= at + 4:
        proto, at = frame[at + 2:at + 4], at + 4
    if proto == b"\x08\x00" and len(frame) >= at + 20:
        return at, 12, 4
    if proto == b"\x86\xdd" and len(frame) >= at + 40:
        return at, 8, 16
    return None

def relabel(frame, tag):
    """The frame with both IP addresses' first two bytes XORed with `tag`."""
    where = ip_offset(frame)
    if where is None:
        return frame
    at, src, alen = where
    f = bytearray(frame)
    for a in (at + src, at + src + alen):
        f[a] ^= tag >> 8
        f[a + 1] ^= tag & 0xFF
    return bytes(f)

recordings = [records(p) for p in files]
per_round = sum(24 + 16 * len(r) + sum(len(f) for _, f, _ in r) for r in recordings)
rounds = max(1, (size_mb * 1_000_000) // per_round)
packets, clock, tag = 0, 0, 0
with open(out + ".tmp", "wb") as w:
    w.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, ETHERNET))
    for _ in range(rounds):
        for recs in recordings:
            tag += 1
            if not recs:
                continue
            shift = clock - recs[0][0]
            for ts, frame, origlen in recs:
                t = ts + shift
                frame = relabel(frame, tag)
                w.write(struct.pack("<IIII", t // 1_000_000, t % 1_000_000, len(frame), origlen))
                w.write(frame)
                packets += 1
            clock = recs[-1][0] + shift + GAP_US
size = __import__("os").path.getsize(out + ".tmp")
__import__("os").replace(out + ".tmp", out)
print(f"wrote {out}: {packets} packets, {size} bytes, {rounds} rounds", file=sys.stderr)
EOF
