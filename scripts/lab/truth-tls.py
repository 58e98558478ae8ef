#!/usr/bin/env python3
"""Ground truth of a TLS lab recording (record-tls.sh), from logs only:
nginx's access log gives every upstream attempt ($upstream_status: a 502
before another status is a raced reused connection that nginx retried); the
backend's own log gives its idle closes: Node's socket log (close minus the
socket's last response), or nginx's syscall log (the close_notify write
minus the socket's last response write)."""
import argparse
import json
import re
import statistics

p = argparse.ArgumentParser()
p.add_argument("--access", required=True)
p.add_argument("--backend", choices=["nginx", "node"], required=True)
p.add_argument("--log", required=True)
p.add_argument("--tls", required=True)
p.add_argument("--out", required=True)
a = p.parse_args()

attempts = races = retried = 0
for line in open(a.access):
    m = re.match(r'(\S+) "([^"]*)" (\d+) "([^"]*)" "([^"]*)"', line)
    if not m:
        continue
    statuses = [s.strip() for s in m.group(5).replace(":", ",").split(",") if s.strip()]
    attempts += len(statuses)
    for i, s in enumerate(statuses):
        if s in ("502", "504"):
            races += 1
            retried += i + 1 < len(statuses)

closes = []
if a.backend == "node":
    last = {}
    for line in open(a.log):
        f = line.split()
        if len(f) < 3:
            continue
        t, ev, port = float(f[0]), f[1], f[2]
        if ev == "response":
            last[port] = t
        elif ev == "open":
            last.pop(port, None)
        elif ev == "close" and port in last:
            closes.append((t - last.pop(port)) * 1000)
else:
    sock = re.compile(r"^\d+ +(\S+) (write|close)\(\d+<TCP:\[[^>]*->[\d.]+:(\d+)\]>(?:, \.\.\., (\d+))?")
    writes = {}
    for line in open(a.log):
        m = sock.match(line)
        if not m:
            continue
        t, call, port, n = float(m.group(1)), m.group(2), m.group(3), m.group(4)
        if call == "write":
            writes.setdefault(port, []).append((t, int(n or 0)))
        else:
            w = writes.pop(port, [])
            # the close_notify (31 bytes in TLS 1.2, 24 in 1.3) ends an idle
            # connection; before it, the last response
            if len(w) >= 2 and w[-1][1] in (24, 31) and w[-2][1] > 31:
                closes.append((w[-1][0] - w[-2][0]) * 1000)

idle = [c for c in closes if c >= 1000]
json.dump({
    "tls": a.tls, "backend": a.backend, "attempts": attempts, "races": races,
    "retried_races": retried, "idle_closes_ms": sorted(round(c, 3) for c in idle),
    "idle_close_median_ms": round(statistics.median(idle), 3) if idle else None,
}, open(a.out, "w"), indent=1)
