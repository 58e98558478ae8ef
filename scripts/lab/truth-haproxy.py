#!/usr/bin/env python3
"""Ground truth of the HAProxy log-format recording (record-haproxy.sh),
from logs only: HAProxy's log (log-format `%Ts.%ms %ci:%cp %b/%s
%TR/%Tw/%Tc/%Tr/%Ta %ST %B %tsc %rc %bi:%bp %si:%sp %{+Q}r`), Node's
backend.js log (one line per socket: remote port, requests, idle close) and
the client's (what it got). A race is a request HAProxy failed (5xx, or a
termination state the server side ended) on a pooled connection (%bp) that
Node closed idle and never saw the request on."""
import argparse
import json
import statistics

p = argparse.ArgumentParser()
p.add_argument("--haproxy", required=True)
p.add_argument("--node", required=True)
p.add_argument("--client", required=True)
p.add_argument("--out", required=True)
a = p.parse_args()

sockets = {}
for line in open(a.node):
    j = json.loads(line)
    if j.get("event") == "socket":
        sockets[j["remote_port"]] = j

requests, races, failures = [], [], []
for line in open(a.haproxy):
    f = line.split()
    # %Ts.%ms %ci:%cp %b/%s TIMERS %ST %B %tsc %rc %bi:%bp %si:%sp "%r"
    if len(f) < 10 or not f[4].lstrip("-").isdigit():
        continue
    ts, status, tsc, retries = float(f[0]), int(f[4]), f[6], int(f[7].lstrip("+"))
    bport = f[8].rsplit(":", 1)[-1]
    bport = int(bport) if bport.isdigit() else None
    path = line.split('"')[1].split()[1] if '"' in line else "?"
    r = {"at": ts, "status": status, "termination": tsc, "retries": retries, "port": bport, "path": path}
    requests.append(r)
    failed = status >= 500 or tsc[0] in "Ss"
    if not failed:
        continue
    failures.append(r)
    s = sockets.get(bport)
    seen = s is not None and any(q["path"] == path for q in s["requests"])
    if s is not None and not seen and s["closed_by"] == "server_timeout":
        races.append({**r, "closed_at": s["timeout_at"], "idle_ms": s["idle_ms"]})

clients = []
for line in open(a.client):
    f = line.split()
    if len(f) == 4:
        clients.append({"at": float(f[0]), "path": f[2], "status": f[3]})

idle = [s["idle_ms"] for s in sockets.values() if s["closed_by"] == "server_timeout" and s["idle_ms"] is not None]
truth = {
    "requests": len(requests),
    "client_statuses": {st: sum(1 for c in clients if c["status"] == st) for st in sorted({c["status"] for c in clients})},
    "unlogged_client_failures": sorted(c["path"] for c in clients if c["status"] != "200"
                                       and not any(r["path"] == c["path"] for r in requests)),
    "backend_connections": len(sockets),
    "failures": len(failures),
    "races": len(races),
    "race_list": races,
    "idle_closes": len(idle),
    "idle_close_ms": {"median": statistics.median(idle), "min": min(idle), "max": max(idle)} if idle else None,
}
json.dump(truth, open(a.out, "w"), indent=1)
