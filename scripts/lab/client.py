#!/usr/bin/env python3
"""Bounded client driver for the racecap lab.

Runs a few "lanes" in parallel. Lane L talks to its own nginx port
(base-port + L), so each lane has its own upstream pool with one idle
connection. A lane sends a request, waits an idle gap (measured from the end of
the previous response), sends the next, and so on. The long gaps sweep around
the backend's real idle close (Node 20: keepAliveTimeout + 1000 ms) in small
steps, so some requests cross the backend's FIN; short gaps in between make
every upstream connection carry a few requests.

Each client request uses its own TCP connection to nginx (Connection: close).
Writes one JSON line per request. Bounded: a fixed plan, a per-request
timeout and a global deadline.

--plan FILE replaces the sweep: a JSON list (one entry per lane) of lists of
steps {"kind", "gap_ms", "method", "path"} (path defaults to /laneL/SEQ);
--gap-from sent measures each gap from the previous request's start instead of
the end of its response (for servers whose idle timer starts at the request).
"""
import argparse
import http.client
import json
import sys
import threading
import time


def plan_for_lanes(args):
    """Deterministic per-lane list of gaps (ms) before each request after the first."""
    offsets = list(range(args.sweep_from, args.sweep_to + 1, args.sweep_step))
    lanes = [[] for _ in range(args.lanes)]
    # interleave so that neighbouring offsets land on different lanes
    for i, off in enumerate(offsets):
        lanes[i % args.lanes].append(off)
    plans = []
    for li, offs in enumerate(lanes):
        gaps = []
        # alternate directions between lanes so both ends of the sweep run early
        if li % 2:
            offs = list(reversed(offs))
        for off in offs:
            gaps.append(("short", args.short_gap_ms))
            gaps.append(("sweep", args.base_ms + off))
        gaps.append(("short", args.short_gap_ms))
        plans.append(gaps)
    return plans


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--host", required=True, help="nginx address")
    ap.add_argument("--base-port", type=int, default=9000, help="lane L uses base-port + L")
    ap.add_argument("--lanes", type=int, default=4)
    ap.add_argument("--method", default="GET", choices=["GET", "POST"])
    ap.add_argument("--base-ms", type=int, default=3000, help="centre of the sweep (real close)")
    ap.add_argument("--sweep-from", type=int, default=-100)
    ap.add_argument("--sweep-to", type=int, default=60)
    ap.add_argument("--sweep-step", type=int, default=5)
    ap.add_argument("--short-gap-ms", type=int, default=300)
    ap.add_argument("--lane-stagger-ms", type=int, default=370)
    ap.add_argument("--timeout", type=float, default=10.0, help="per request, seconds")
    ap.add_argument("--max-seconds", type=float, default=150.0, help="global deadline")
    ap.add_argument("--plan", help="JSON file: explicit per-lane steps (replaces the sweep)")
    ap.add_argument("--gap-from", default="done", choices=["done", "sent"])
    ap.add_argument("--log", required=True)
    args = ap.parse_args()

    if args.plan:
        with open(args.plan) as f:
            plans = json.load(f)
        args.lanes = len(plans)
    else:
        plans = plan_for_lanes(args)
    lock = threading.Lock()
    logf = open(args.log, "a", buffering=1)
    deadline = time.time() + args.max_seconds
    totals = {"requests": 0, "errors": 0, "status": {}}

    def write(rec):
        with lock:
            logf.write(json.dumps(rec) + "\n")
            totals["requests"] += 1
            key = str(rec.get("status"))
            totals["status"][key] = totals["status"].get(key, 0) + 1
            if rec.get("error"):
                totals["errors"] += 1

    def lane_run(lane):
        time.sleep((lane - 1) * args.lane_stagger_ms / 1000.0)
        port = args.base_port + lane
        if args.plan:
            steps = [(st.get("kind", "step"), st.get("gap_ms", 0), st.get("method", args.method),
                      st.get("path")) for st in plans[lane - 1]]
        else:
            steps = [(k, g, args.method, None) for k, g in [("first", 0)] + plans[lane - 1]]
        last_end = None
        for seq, (kind, gap_ms, method, path) in enumerate(steps):
            if last_end is not None:
                wait = last_end + gap_ms / 1000.0 - time.time()
                if wait > 0:
                    time.sleep(wait)
            if time.time() + args.timeout > deadline:
                break
            path = path or f"/lane{lane}/{seq}"
            body = None
            headers = {"Connection": "close", "User-Agent": "racecap-lab"}
            if method == "POST":
                body = json.dumps({"lane": lane, "seq": seq}).encode()
                headers["Content-Type"] = "application/json"
            rec = {"lane": lane, "seq": seq, "kind": kind, "gap_ms": gap_ms,
                   "method": method, "path": path, "port": port}
            t0 = time.time()
            status = None
            err = None
            try:
                conn = http.client.HTTPConnection(args.host, port, timeout=args.timeout)
                conn.request(method, path, body=body, headers=headers)
                resp = conn.getresponse()
                resp.read()
                status = resp.status
                conn.close()
            except Exception as e:  # noqa: BLE001 - log every failure
                err = f"{type(e).__name__}: {e}"
            t1 = time.time()
            rec.update({"sent_at": round(t0, 6), "done_at": round(t1, 6),
                        "latency_ms": round((t1 - t0) * 1000, 3),
                        "gap_actual_ms": None if last_end is None else round((t0 - last_end) * 1000, 3),
                        **({"gap_from": "sent"} if args.gap_from == "sent" else {}),
                        "status": status, "error": err})
            write(rec)
            last_end = t0 if args.gap_from == "sent" else t1

    threads = [threading.Thread(target=lane_run, args=(i,), daemon=True)
               for i in range(1, args.lanes + 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.0, deadline - time.time()) + 1)
    print(json.dumps({"client": "done", **totals}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
