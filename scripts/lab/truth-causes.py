#!/usr/bin/env python3
"""Ground truth of a record-causes.sh recording, from the programs' logs only
(Node's socket, stop and fault lines, nginx's access and error logs, the
move time the script logged), never from a packet tool.

  truth-causes.py restart|app-reset|peer-gone|nat-drop|nat-rst PREFIX > PREFIX.truth.json

Each failure is an nginx attempt that failed: an entry of $upstream_status
that is 502 or 504, on the access line of its request (with the request's
time and the final status the client got). Its cause comes from the
backend's side: the graceful stop it followed (restart), the reset Node
logged for its path (application), or the move of the address (peer_gone).
"""
import json
import os
import re
import sys
from datetime import datetime, timezone

name, prefix = sys.argv[1], sys.argv[2]


def jsonl(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip().startswith("{")]


node = jsonl(prefix + ".node.log") + jsonl(prefix + ".node-new.log")
sockets = [e for e in node if e.get("event") == "socket"]
# (a stop with nothing open is the script's teardown, after the run)
stops = sorted(e["at"] for e in node if e.get("event") == "stop" and e.get("open") and name == "restart")
faults = [e for e in node if e.get("event") == "fault"]
moves = [e["at"] for e in jsonl(prefix + ".move.log")]
relay = jsonl(prefix + ".relay.log")  # the middlebox's own log (nat-*)
forgot = sorted(e["at"] for e in relay if e.get("event") == "forgot")
# the old host's stop after its address moved away closes nothing on the wire
stops = [s for s in stops if not moves or s < moves[0]]

ACCESS = re.compile(r'^(\S+) "(\S+) (\S+) [^"]*" (\d+) "([^"]*)" "([^"]*)" "([^"]*)" "([^"]*)" (\S+) (\d+)')
failures = []
requests = 0
with open(prefix + ".nginx-access.log") as f:
    for line in f:
        m = ACCESS.match(line)
        if not m:
            continue
        requests += 1
        msec, method, path, status, addr, ustatus = m.group(1, 2, 3, 4, 5, 6)
        tries = [s.strip() for s in ustatus.split(",")]
        for i, s in enumerate(tries):
            if s in ("502", "504"):
                start = float(msec) - float(m.group(9))
                failures.append({"request_start": round(start, 3), "method": method, "path": path,
                                 "attempt": i + 1, "upstream_status": ustatus, "client_status": int(status),
                                 "retried": i + 1 < len(tries)})

ERROR = re.compile(r'^(\d{4}/\d\d/\d\d \d\d:\d\d:\d\d) \[error\] \S+ \*\d+ (.*?)(?: while .*?)?, client: .*?request: "(\S+) (\S+)')
errors = []
with open(prefix + ".nginx-error.log") as f:
    for line in f:
        m = ERROR.match(line)
        if m:
            t = datetime.strptime(m.group(1), "%Y/%m/%d %H:%M:%S").replace(tzinfo=timezone.utc).timestamp()
            errors.append({"at_s": int(t), "message": m.group(2), "method": m.group(3), "path": m.group(4)})


def cause_of(f):
    t = f["request_start"]
    if name == "restart":
        before = [s for s in stops if s - 1.0 <= t <= s + 1.0]
        return "restart" if before else "unknown"
    if name == "app-reset":
        return "application" if any(x["path"] == f["path"] for x in faults) else "unknown"
    if name.startswith("nat-"):
        return "path" if any(t - 0.1 <= x <= t + 0.5 for x in forgot) else "unknown"
    if name == "peer-gone":
        return "peer_gone" if moves and t >= moves[0] else "unknown"
    return "unknown"


for f in failures:
    f["cause"] = cause_of(f)
    f["error_log"] = [e["message"] for e in errors if e["path"] == f["path"]]

idle_closes = sorted(s["idle_ms"] for s in sockets if s.get("closed_by") == "server_timeout" and s.get("idle_ms"))
restart_closes = []
for at in stops:
    group = [s for s in sockets if s.get("stop_at") is not None and abs(s["stop_at"] - at) < 1e-3]
    idle = [s for s in group if s.get("idle_at_stop")]
    closes = sorted(s["close_at"] for s in idle)
    ages = sorted(s["idle_ms_at_stop"] for s in idle if s.get("idle_ms_at_stop") is not None)
    restart_closes.append({"stop_at": at, "open": len(group), "idle_closed": len(idle),
                           "close_span_ms": round((closes[-1] - closes[0]) * 1000, 3) if closes else None,
                           "idle_ms_min": ages[0] if ages else None, "idle_ms_max": ages[-1] if ages else None})

causes = {}
for f in failures:
    causes[f["cause"]] = causes.get(f["cause"], 0) + 1
keep_alive_ms = [e.get("keep_alive_timeout_ms") for e in node if e.get("event") == "listen"][:1]
out = {
    "scenario": name,
    "keep_alive_timeout_ms": keep_alive_ms[0] if keep_alive_ms else None,
    "summary": {"requests": requests, "failures": len(failures), "by_cause": causes,
                "retried": sum(f["retried"] for f in failures),
                "server_idle_closes": len(idle_closes),
                "restart_idle_closes": sum(r["idle_closed"] for r in restart_closes),
                "app_resets": len(faults)},
    "failures": failures,
    "idle_closes_ms": idle_closes,
    "stops": restart_closes,
    "faults": [{k: x.get(k) for k in ("remote_port", "method", "path", "idle_ms", "request_at")} for x in faults],
    "moves": moves,
    "forgotten_flows": len(forgot),
    "middlebox_rsts": sum(1 for e in relay if e.get("event") == "rst"),
    "connections_new_host": len(jsonl(prefix + ".node-new.log")) and sum(
        1 for e in jsonl(prefix + ".node-new.log") if e.get("event") == "socket"),
}
json.dump(out, sys.stdout, indent=1)
print()
