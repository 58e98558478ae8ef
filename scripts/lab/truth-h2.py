#!/usr/bin/env python3
"""Ground truth of an HTTP/2 lab recording (record-h2.sh), from logs only:
Node's http2 log (sessions by the proxy's port, streams, idle closes) and
HAProxy's log (each request's status and the backend connection's source
port, %bp). A race is a request HAProxy failed (5xx) on a pooled
connection that Node closed idle: Node never saw its stream (it came after
the GOAWAY), so it is in HAProxy's log only. With `retry-on` HAProxy may
re-send it: a request logged with retries (%rc > 0) is a race it retried
(its %bp is then the new connection's).

With --client (record-h2-proxy-legs.sh: h2-raw-client.py speaking h2c to
HAProxy, its log `SENT_AT PORT STREAM PATH OUTCOME GOAWAY_BEFORE`, and
HAProxy logging the client's address last, %ci:%cp) the client's log says
what each stream got. A failed stream HAProxy did not log is a race when
the backend session HAProxy used for the previous stream of the same
client connection (its %bp) was closed idle by Node, which never saw the
failed stream's path. `clients_got` counts what the failed streams got:
the status of a 5xx, else `no_response` (an RST_STREAM, the connection
closed or reset, nothing)."""
import argparse
import json
import statistics

p = argparse.ArgumentParser()
p.add_argument("--haproxy", help="HAProxy's log (the haproxy-* scenarios)")
p.add_argument("--raw", help="h2-raw-client.py's log (raw-reuse)")
p.add_argument("--client", help="h2-raw-client.py's log, as a client of HAProxy")
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
    client = f[-1].rsplit(":", 1)[-1] if f[-1].startswith("127.") else None
    requests.append({"at": ts, "status": status, "port": port, "path": path, "retries": retries,
                     "client": int(client) if client else None})
    s = sessions.get(port)
    if retries > 0:
        races.append({"at": ts, "port": None, "path": path, "status": status,
                      "retried": True})
    elif status >= 500 and s is not None and s["idle_close"] is not None:
        races.append({"at": ts, "port": port, "path": path, "status": status,
                      "closed_at": s["idle_close"]})

clients, client_failures = [], []
for line in open(a.client) if a.client else []:
    f = line.split()
    if len(f) != 6:
        continue
    clients.append({"at": float(f[0]), "client_port": int(f[1]), "stream": int(f[2]),
                    "path": f[3], "outcome": f[4]})
for c in clients:
    if c["outcome"].isdigit() and int(c["outcome"]) < 500:
        continue
    got = c["outcome"] if c["outcome"].isdigit() else "no_response"
    client_failures.append({**c, "got": got})
    if any(r["path"] == c["path"] for r in requests):
        continue  # HAProxy logged it: a race above if it was one
    before = [r for r in requests if r.get("client") == c["client_port"] and r["at"] <= c["at"]]
    port = max(before, key=lambda r: r["at"])["port"] if before else None
    s = sessions.get(port)
    seen = s is not None and any(x["path"] == c["path"] for x in s["streams"])
    if s is not None and s["idle_close"] is not None and not seen:
        races.append({"at": c["at"], "port": port, "path": c["path"], "status": c["outcome"],
                      "closed_at": s["idle_close"], "client_port": c["client_port"],
                      "logged_by_haproxy": False})

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
if a.client:
    out["client_requests"] = len(clients)
    out["client_outcomes"] = {o: sum(1 for c in clients if c["outcome"] == o)
                              for o in sorted({c["outcome"] for c in clients})}
    out["clients_got"] = {g: sum(1 for c in client_failures if c["got"] == g)
                          for g in sorted({c["got"] for c in client_failures})}
    out["client_failure_list"] = client_failures
json.dump(out, open(a.out, "w"), indent=1)
