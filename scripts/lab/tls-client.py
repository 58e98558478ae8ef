#!/usr/bin/env python3
"""Bounded client for the TLS lab (record-tls.sh): one GET per TCP connection
to nginx, with idle gaps swept across the backend's idle close, so that some
reused upstream connections race it. Logs each request's time and status."""
import argparse
import socket
import sys
import time

p = argparse.ArgumentParser()
p.add_argument("--host", required=True)
p.add_argument("--port", type=int, required=True)
p.add_argument("--gaps-ms", required=True, help="comma-separated idle gaps")
p.add_argument("--short-gap-ms", type=int, default=300)
p.add_argument("--max-seconds", type=float, default=120)
p.add_argument("--log", required=True)
a = p.parse_args()
deadline = time.monotonic() + a.max_seconds
out = open(a.log, "w")


def get(path):
    s = socket.create_connection((a.host, a.port), timeout=10)
    t = time.time()
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: lab\r\nConnection: close\r\n\r\n".encode())
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    status = data.split(b" ", 2)[1].decode() if data.startswith(b"HTTP/") else "none"
    out.write(f"{t:.6f} {time.time():.6f} {path} {status}\n")
    out.flush()
    return status


get("/first")
for i, gap in enumerate(int(g) for g in a.gaps_ms.split(",")):
    if time.monotonic() + gap / 1000 + a.short_gap_ms / 1000 > deadline:
        print("time bound reached", file=sys.stderr)
        break
    time.sleep(a.short_gap_ms / 1000)
    get(f"/short{i}")
    time.sleep(gap / 1000)
    get(f"/gap{i}-{gap}")
print("client done")
