#!/usr/bin/env python3
"""Ground truth for a racecap lab recording, from the servers' and client's logs only.

Inputs: the Node backend's socket log, nginx's access and error logs, the client
driver's log and the scenario's meta.json (written by record.sh). No packet
tool is used here: the captures are what racecap must explain, these logs are
what really happened.

A race is a request whose nginx access-log line has an upstream status 502/504
among its tries, or that the error log reports as "upstream prematurely closed
connection" / "Connection reset by peer". The connection it hit is the lane's
pooled connection: each lane has its own nginx upstream (keepalive 1) to its
own backend port and sends one request at a time, so the pooled connection is
the Node socket that served the lane's previous successful request. A second
witness, the socket on that port that Node closed by timeout most recently
before the request, must agree.
"""
import argparse
import json
import re
import statistics
import sys

ACCESS_RE = re.compile(
    r'^(?P<msec>\d+\.\d+) "(?P<request>[^"]*)" (?P<status>\d+) "(?P<ups_addr>[^"]*)" '
    r'"(?P<ups_status>[^"]*)" "(?P<ups_connect>[^"]*)" "(?P<ups_resp>[^"]*)" '
    r'(?P<request_time>[\d.]+) (?P<remote_port>\d+)$')
ERROR_RACE_RE = re.compile(r"prematurely closed|reset by peer")
ERROR_REQ_RE = re.compile(r'request: "(?P<method>\S+) (?P<path>\S+) [^"]*"')
LANE_RE = re.compile(r"^/lane(?P<lane>\d+)/(?P<seq>\d+)$")


def split_list(s):
    """nginx joins tries with ', ' and upstream groups with ' : '."""
    return [x.strip() for x in re.split(r"[,:](?!\d)", s) if x.strip()] if s and s != "-" else []


def read_jsonl(path):
    out = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                out.append(json.loads(line))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--meta", required=True)
    ap.add_argument("--node", required=True)
    ap.add_argument("--access", required=True)
    ap.add_argument("--error", required=True)
    ap.add_argument("--client", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    meta = json.load(open(args.meta))
    node = read_jsonl(args.node)
    client = read_jsonl(args.client)
    sockets = sorted((e for e in node if e.get("event") == "socket"), key=lambda e: e["open_at"])
    listen = next((e for e in node if e.get("event") == "listen"), {})

    access = []
    with open(args.access) as f:
        for line in f:
            m = ACCESS_RE.match(line.rstrip("\n"))
            if not m:
                continue
            d = m.groupdict()
            method, path = (d["request"].split(" ") + ["", ""])[:2]
            statuses = split_list(d["ups_status"])
            access.append({
                "logged_at": float(d["msec"]),
                "started_at": round(float(d["msec"]) - float(d["request_time"]), 3),
                "method": method, "path": path, "status": int(d["status"]),
                "upstream_addrs": split_list(d["ups_addr"]),
                "upstream_statuses": statuses,
                "upstream_connect_times": split_list(d["ups_connect"]),
                "upstream_response_times": split_list(d["ups_resp"]),
            })

    error_lines = []
    with open(args.error) as f:
        for line in f:
            if ERROR_RACE_RE.search(line):
                m = ERROR_REQ_RE.search(line)
                error_lines.append({"method": m["method"] if m else None,
                                    "path": m["path"] if m else None,
                                    "reset": "reset by peer" in line,
                                    "line": line.strip()})

    client_by_path = {c["path"]: c for c in client}

    # which Node socket served which path
    served_by = {}
    for s in sockets:
        for r in s["requests"]:
            served_by.setdefault(r["path"], []).append(s)

    backend_of_lane = {}
    for lane in range(1, meta["lanes"] + 1):
        backend_of_lane[lane] = f'{meta["backend_ip"]}:{meta["backend_port_base"] + lane}'

    notes = []
    race_paths = set()
    races = []
    access_races = [a for a in access
                    if any(s in ("502", "504") for s in a["upstream_statuses"])]
    error_paths = {e["path"] for e in error_lines}
    # a request the error log names as a race but the access log does not
    for e in error_lines:
        if e["path"] not in {a["path"] for a in access_races}:
            notes.append(f'error log names {e["method"]} {e["path"]} but its access-log line has no 502/504 try')
    candidates = access_races + [a for a in access if a["path"] in error_paths and a not in access_races]
    for a in sorted(candidates, key=lambda a: a["started_at"]):
        m = LANE_RE.match(a["path"])
        if not m:
            notes.append(f'race on unexpected path {a["path"]}')
            continue
        lane, seq = int(m["lane"]), int(m["seq"])
        backend = backend_of_lane[lane]
        port = meta["backend_port_base"] + lane
        t = a["started_at"]
        # witness 1: socket that served the lane's previous successfully served request
        prev_sock = None
        for s_prev in range(seq - 1, -1, -1):
            socks = served_by.get(f"/lane{lane}/{s_prev}")
            if socks:
                ok = [s for s in socks if any(r["path"] == f"/lane{lane}/{s_prev}" and r["end"] for r in s["requests"])]
                if ok:
                    prev_sock = ok[-1]
                break
        # witness 2: the socket on that port that Node closed by timeout most recently before t
        timed_out = [s for s in sockets if s["local_port"] == port and s["closed_by"] == "server_timeout"
                     and s["timeout_at"] is not None and s["timeout_at"] <= t + 0.1]
        last_to = max(timed_out, key=lambda s: s["timeout_at"]) if timed_out else None
        sock = prev_sock
        mapping = "previous-request-socket"
        if prev_sock is None or last_to is None or prev_sock["id"] != last_to["id"]:
            notes.append(f'{a["path"]}: witnesses disagree (previous-request socket '
                         f'{prev_sock and prev_sock["remote_port"]}, last timed-out socket '
                         f'{last_to and last_to["remote_port"]})')
            mapping = "ambiguous"
            sock = prev_sock or last_to
        if sock is not None and sock["closed_by"] != "server_timeout":
            notes.append(f'{a["path"]}: pooled socket {sock["remote_port"]} was closed by {sock["closed_by"]}')
        if sock is not None and any(r["path"] == a["path"] for r in sock["requests"]):
            notes.append(f'{a["path"]}: Node logged the raced request on the pooled socket')
        tries = a["upstream_statuses"]
        c = client_by_path.get(a["path"], {})
        if c and c.get("status") != a["status"]:
            notes.append(f'{a["path"]}: client saw {c.get("status")} but nginx logged {a["status"]}')
        race = {
            "proxy_port": sock["remote_port"] if sock else None,
            "backend": backend,
            "method": a["method"],
            "path": a["path"],
            "request_time": t,
            "retried": len(tries) > 1,
            "client_status": c.get("status", a["status"]),
            "lane": lane,
            "nginx_upstream_statuses": tries,
            "nginx_logged_at": a["logged_at"],
            "client_sent_at": c.get("sent_at"),
            "error_log": next((("reset" if e["reset"] else "prematurely_closed")
                               for e in error_lines if e["path"] == a["path"]), None),
            "server_closed_at": sock["timeout_at"] if sock else None,
            "server_last_response_end": sock["last_response_end"] if sock else None,
            "request_after_server_close_ms": round((t - sock["timeout_at"]) * 1000, 3)
            if sock and sock["timeout_at"] else None,
            "mapping": mapping,
        }
        races.append(race)
        race_paths.add(a["path"])

    n_error = len(error_lines)
    if n_error != len(races):
        notes.append(f"races from access log: {len(access_races)}, error-log race lines: {n_error}")

    idle = []
    for s in sockets:
        if s["closed_by"] != "server_timeout":
            continue
        start = s["last_response_end"] if s["last_response_end"] is not None else s["open_at"]
        idle.append({
            "proxy_port": s["remote_port"],
            "backend": s["local"],
            "last_response_end": start,
            "closed_at": s["timeout_at"],
            "idle_ms": round((s["timeout_at"] - start) * 1000, 3),
            "requests": len(s["requests"]),
        })
    idle_vals = [x["idle_ms"] for x in idle]

    statuses = {}
    for c in client:
        k = str(c.get("status"))
        statuses[k] = statuses.get(k, 0) + 1
    closed_by = {}
    for s in sockets:
        closed_by[s["closed_by"]] = closed_by.get(s["closed_by"], 0) + 1

    backends = sorted({s["local"] for s in sockets}) or list(backend_of_lane.values())
    truth = {
        "scenario": meta["scenario"],
        "backend": backends if len(backends) != 1 else backends[0],
        "proxy_ip": meta["proxy_ip"],
        "keep_alive_timeout_ms": meta["keep_alive_timeout_ms"],
        "connections": len(sockets),
        "races": races,
        "server_idle_closes": idle,
        "summary": {
            "requests": len(client),
            "client_statuses": statuses,
            "races": len(races),
            "retried": sum(r["retried"] for r in races),
            "error_log_race_lines": n_error,
            "connections_closed_by": closed_by,
            "server_idle_ms": {
                "count": len(idle_vals),
                "median": round(statistics.median(idle_vals), 3) if idle_vals else None,
                "min": min(idle_vals) if idle_vals else None,
                "max": max(idle_vals) if idle_vals else None,
            },
            "notes": notes,
        },
        "client_statuses": statuses,
        "lanes": [{"lane": lane, "nginx": f'{meta["nginx_ip"]}:{meta["nginx_listen_base"] + lane}',
                   "backend": backend_of_lane[lane]} for lane in backend_of_lane],
        "connections_detail": [{
            "proxy_port": s["remote_port"], "backend": s["local"], "open_at": s["open_at"],
            "requests": len(s["requests"]), "last_response_end": s["last_response_end"],
            "closed_at": s["timeout_at"] if s["closed_by"] == "server_timeout" else (s["end_at"] or s["close_at"]),
            "closed_by": s["closed_by"],
        } for s in sockets],
        "lab": {k: meta[k] for k in ("method", "delay_ms_each_way", "measured_rtt_ms", "lanes", "sweep",
                                     "client_ip", "nginx_ip", "nginx", "node", "started_at", "finished_at")},
        "source": "derived by scripts/lab/truth.py from the node, nginx and client logs only",
    }
    if listen.get("node"):
        truth["lab"]["node"] = listen["node"]
    with open(args.out, "w") as f:
        json.dump(truth, f, indent=1)
        f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
