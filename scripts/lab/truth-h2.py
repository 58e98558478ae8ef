#!/usr/bin/env python3
"""Ground truth of an HTTP/2 lab recording (record-h2.sh), from logs only:
Node's http2 log (sessions by the proxy's port, streams, idle closes) and
HAProxy's log (each request's status and the backend connection's source
port, %bp). A race is a request HAProxy failed (5xx) on a pooled
connection that Node closed idle: Node never saw its stream (it came after
the GOAWAY), so it is in HAProxy's log only. With `retry-on` HAProxy may
re-send it: a request logged with retries (%rc > 0) is a race it retried
(its %bp is then the new connection's)."""
import argparse
import json
import statistics

p = argparse.ArgumentParser()
p.add_argument("--haproxy", help="HAProxy's log (the haproxy-* scenarios)")
p.add_argument("--raw", help="h2-raw-client.py's log (raw-reuse)")
p.add_argument("--node", required=True)
p.add_argument("--out", required=True)
a = p.parse_args()

sessions = {}
for line in open(a.node):
    f = line.split()
    if len(f) < 3:
        continue
    ts, ev, port = float(f[0]), f[1], int(f[2])
    s = sessions.setdefault(port, {"port": port, "streams": [], "ends": [], "idle_close": None})
    if ev == "session-open":
        s["open"] = ts
    elif ev == "stream":
        s["streams"].append({"id": int(f[3]), "at": ts, "method": f[4], "path": f[5]})
    elif ev == "stream-end":
        s["ends"].append(ts)
    elif ev == "idle-close":
        s["idle_close"] = ts
        s["last_stream"] = int(f[4])
    elif ev == "session-close":
        s["close"] = ts

requests, races = [], []
for line in open(a.raw) if a.raw else []:
    # SENT_AT PORT STREAM PATH OUTCOME GOAWAY_BEFORE
    f = line.split()
    if len(f) != 6:
        continue
    ts, port, path, outcome = float(f[0]), int(f[1]), f[3], f[4]
    requests.append({"at": ts, "status": outcome, "port": port, "path": path})
    s = sessions.get(port)
    if not outcome.isdigit() and s is not None and s["idle_close"] is not None:
        races.append({"at": ts, "port": port, "path": path, "status": outcome,
                      "closed_at": s["idle_close"], "goaway_before": f[5] == "1"})
for line in open(a.haproxy) if a.haproxy else []:
    f = line.split()
    if len(f) < 6 or not f[1].isdigit():
        continue
    ts, status, port = float(f[0]), int(f[1]), f[4].rsplit(":", 1)[-1]
    port = int(port) if port.isdigit() else None
    path = line.split('"')[1].split()[1] if '"' in line else "?"
    retries = int(f[3]) if f[3].lstrip("+").isdigit() else 0
    requests.append({"at": ts, "status": status, "port": port, "path": path, "retries": retries})
    s = sessions.get(port)
    if retries > 0:
        races.append({"at": ts, "port": None, "path": path, "status": status,
                      "retried": True})
    elif status >= 500 and s is not None and s["idle_close"] is not None:
        races.append({"at": ts, "port": port, "path": path, "status": status,
                      "closed_at": s["idle_close"]})

idle = []
for s in sessions.values():
    if s["idle_close"] is not None and s["ends"]:
        last_end = max(e for e in s["ends"] if e <= s["idle_close"])
        idle.append({"port": s["port"], "closed_at": s["idle_close"],
                     "idle_ms": round((s["idle_close"] - last_end) * 1000, 3)})

streams = sum(len(s["streams"]) for s in sessions.values())
reused = sum(max(len(s["streams"]) - 1, 0) for s in sessions.values())
racing_ports = {r["port"] for r in races if r["port"] is not None}
out = {
    "requests": len(requests),
    "failed": sum(1 for r in requests if not str(r["status"]).isdigit() or int(r["status"]) >= 500),
    "sessions": len(sessions),
    "streams": streams + len(races),
    "reused_streams": reused + len(races),
    "races": len(races),
    "retried_races": sum(1 for r in races if r.get("retried")),
    "race_list": races,
    "idle_closes": len(idle),
    "idle_close_list": sorted(idle, key=lambda x: x["closed_at"]),
    "idle_close_median_ms": statistics.median([i["idle_ms"] for i in idle]) if idle else None,
    "racing_sessions": len(racing_ports),
}
json.dump(out, open(a.out, "w"), indent=1)
