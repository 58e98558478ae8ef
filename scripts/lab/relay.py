#!/usr/bin/env python3
"""Userspace delay bridge for the racecap lab.

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


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("if_a")
    ap.add_argument("if_b")
    ap.add_argument("--delay-ms", type=float, default=20.0, help="one-way delay per frame")
    ap.add_argument("--max-seconds", type=float, default=900.0, help="hard stop")
    args = ap.parse_args()

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
