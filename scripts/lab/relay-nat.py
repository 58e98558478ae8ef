#!/usr/bin/env python3
"""Userspace delay bridge for the racecap lab, with a middlebox's flow table
(record-causes.sh, issue 21): relay.py plus a NAT's or load balancer's
memory of TCP flows. A flow idle longer than --flow-idle-ms is forgotten;
a forgotten flow's packets are then dropped (--forget drop: the request is
retransmitted into nothing) or, from the proxy's side, answered at once by
an RST the relay writes itself (--forget rst: seq = the segment's ACK, no
ACK flag, as Linux's REJECT --reject-with tcp-reset does), before any
delay: the proxy sees it sooner than the round trip allows. A SYN starts
the flow again. Each forgotten flow and each RST is one JSON line on stdout.

The delay bridge itself:

Copies Ethernet frames between two interfaces with raw AF_PACKET sockets and
delays every frame by a fixed amount, keeping the order of each direction.
The lab kernel has no tc netem; this relay puts an RTT between nginx and the
backend so that requests can cross the backend's FIN on the wire.

Run inside a network namespace that holds both interfaces (no addresses on
them). Stops on SIGINT/SIGTERM or after --max-seconds, and prints a one-line
JSON summary to stdout.
"""
import argparse
import collections
import json
import select
import signal
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4


def open_if(name):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    s.bind((name, ETH_P_ALL))
    s.setblocking(False)
    return s


def tcp_of(frame):
    """(flow key, flags, seq, ack, payload length, ip offset, ihl) of an IPv4 TCP frame, else None."""
    if len(frame) < 54 or frame[12:14] != b"\x08\x00" or frame[23] != 6:
        return None
    ihl = (frame[14] & 15) * 4
    t = 14 + ihl
    total = struct.unpack("!H", frame[16:18])[0]
    sport, dport, seq, ack = struct.unpack("!HHII", frame[t:t + 12])
    doff = (frame[t + 12] >> 4) * 4
    flags = frame[t + 13]
    src, dst = frame[26:30], frame[30:34]
    a, b = (src, sport), (dst, dport)
    key = (a, b) if a < b else (b, a)
    return key, flags, seq, ack, total - ihl - doff, t


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def rst_for(frame, t, ack):
    """A bare RST answering this frame from its destination (MACs, addresses, ports swapped)."""
    eth = frame[6:12] + frame[0:6] + b"\x08\x00"
    src, dst = frame[30:34], frame[26:30]
    sport, dport = struct.unpack("!HH", frame[t:t + 4])
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, 0, 0x4000, 64, 6, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    tcp = struct.pack("!HHIIBBHHH", dport, sport, ack, 0, 5 << 4, 0x04, 0, 0, 0)
    pseudo = src + dst + struct.pack("!BBH", 0, 6, 20)
    tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]
    return eth + ip + tcp


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("if_a")
    ap.add_argument("if_b")
    ap.add_argument("--delay-ms", type=float, default=20.0, help="one-way delay per frame")
    ap.add_argument("--max-seconds", type=float, default=900.0, help="hard stop")
    ap.add_argument("--flow-idle-ms", type=float, default=4000.0, help="forget a flow idle this long")
    ap.add_argument("--forget", choices=["drop", "rst"], default="drop")
    args = ap.parse_args()
    flow_idle = args.flow_idle_ms / 1000.0
    last_seen = {}  # flow key -> monotonic time of its last packet
    forgotten = set()

    delay = args.delay_ms / 1000.0
    a = open_if(args.if_a)
    b = open_if(args.if_b)
    # per direction: deque of (release_time, frame); fixed delay keeps FIFO order
    queues = {a: collections.deque(), b: collections.deque()}
    other = {a: b, b: a}
    stats = {"a_to_b": 0, "b_to_a": 0, "send_errors": 0, "max_late_ms": 0.0}
    names = {a: "a_to_b", b: "b_to_a"}

    stop = False

    def on_signal(_sig, _frm):
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    deadline = time.monotonic() + args.max_seconds
    print(json.dumps({"relay": "started", "if_a": args.if_a, "if_b": args.if_b,
                      "delay_ms": args.delay_ms}), flush=True)
    while not stop and time.monotonic() < deadline:
        now = time.monotonic()
        timeout = 0.2
        for q in queues.values():
            if q:
                timeout = min(timeout, max(0.0, q[0][0] - now))
        try:
            readable, _, _ = select.select([a, b], [], [], timeout)
        except InterruptedError:
            continue
        now = time.monotonic()
        for s in readable:
            while True:
                try:
                    frame, addr = s.recvfrom(65535)
                except BlockingIOError:
                    break
                if addr[2] == PACKET_OUTGOING:
                    continue  # our own transmissions on this interface
                seg = tcp_of(frame)
                if seg is not None:
                    key, flags, _seq, ack, _plen, t = seg
                    syn = flags & 0x02
                    seen = last_seen.get(key)
                    if syn:
                        forgotten.discard(key)
                    elif key not in forgotten and seen is not None and now - seen > flow_idle:
                        forgotten.add(key)
                        print(json.dumps({"event": "forgot", "at": round(time.time(), 6),
                                          "idle_ms": round((now - seen) * 1000, 3),
                                          "flow": [f"{socket.inet_ntoa(k[0])}:{k[1]}" for k in key]}), flush=True)
                    if key in forgotten:
                        stats["forgotten_frames"] = stats.get("forgotten_frames", 0) + 1
                        if args.forget == "rst" and s is a and not flags & 0x04 and flags & 0x10:
                            try:
                                a.send(rst_for(frame, t, ack))
                                print(json.dumps({"event": "rst", "at": round(time.time(), 6),
                                                  "to": f"{socket.inet_ntoa(frame[26:30])}:{struct.unpack('!H', frame[t:t + 2])[0]}"}),
                                      flush=True)
                            except OSError:
                                stats["send_errors"] += 1
                        continue
                    last_seen[key] = now
                queues[s].append((now + delay, frame))
        now = time.monotonic()
        for s, q in queues.items():
            while q and q[0][0] <= now:
                due, frame = q.popleft()
                late = (now - due) * 1000.0
                if late > stats["max_late_ms"]:
                    stats["max_late_ms"] = round(late, 3)
                try:
                    other[s].send(frame)
                    stats[names[s]] += 1
                except OSError:
                    stats["send_errors"] += 1
    stats["relay"] = "stopped"
    print(json.dumps(stats), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
