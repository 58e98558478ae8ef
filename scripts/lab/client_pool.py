#!/usr/bin/env python3
"""Pooled client for the racecap lab's client-lib scenario (no proxy).

Each lane keeps one http.client.HTTPConnection to its backend port and reuses
it without checking it, the way a naive connection pool does: it sends a
request, reads the response, sleeps the planned gap and sends the next request
on the same socket. After a long gap the server has already closed the socket
(FIN); http.client writes the request anyway (a stale race) and raises
RemoteDisconnected. The lane then opens a new connection for its next request
(no retry). Sends http.client's own headers only: Host and
Accept-Encoding: identity, no User-Agent.

Plan: --plan FILE, a JSON list (one entry per lane) of steps {"kind", "gap_ms"}
(gap measured from the end of the previous response or failure). Writes one
JSON line per request, with the socket's local port and whether the socket was
reused. Bounded: fixed plan, per-request timeout and a global deadline.
"""
import argparse
import http.client
import json
import sys
import threading
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--host", required=True)
    ap.add_argument("--base-port", type=int, default=8080, help="lane L uses base-port + L")
    ap.add_argument("--plan", required=True)
    ap.add_argument("--lane-stagger-ms", type=int, default=370)
    ap.add_argument("--timeout", type=float, default=10.0)
    ap.add_argument("--max-seconds", type=float, default=120.0)
    ap.add_argument("--log", required=True)
    args = ap.parse_args()
    plans = json.load(open(args.plan))
    lock = threading.Lock()
    logf = open(args.log, "a", buffering=1)
    deadline = time.time() + args.max_seconds
    totals = {"requests": 0, "errors": 0}

    def lane_run(lane):
        time.sleep((lane - 1) * args.lane_stagger_ms / 1000.0)
        port = args.base_port + lane
        conn = None
        uses = 0
        last_end = None
        for seq, st in enumerate(plans[lane - 1]):
            if last_end is not None:
                wait = last_end + st.get("gap_ms", 0) / 1000.0 - time.time()
                if wait > 0:
                    time.sleep(wait)
            if time.time() + args.timeout > deadline:
                break
            if conn is None:
                conn = http.client.HTTPConnection(args.host, port, timeout=args.timeout)
                uses = 0
            path = f"/lane{lane}/{seq}"
            reused = conn.sock is not None
            local_port = conn.sock.getsockname()[1] if reused else None
            rec = {"lane": lane, "seq": seq, "kind": st.get("kind"), "gap_ms": st.get("gap_ms", 0),
                   "method": "GET", "path": path, "port": port, "reused": reused,
                   "uses_before": uses}
            t0 = time.time()
            status = err = None
            try:
                conn.request("GET", path)
                if local_port is None:
                    local_port = conn.sock.getsockname()[1]
                t_written = time.time()
                resp = conn.getresponse()
                resp.read()
                status = resp.status
                uses += 1
            except Exception as e:  # noqa: BLE001 - log every failure
                t_written = None
                err = f"{type(e).__name__}: {e}"
                conn.close()
                conn = None
            t1 = time.time()
            rec.update({"local_port": local_port, "sent_at": round(t0, 6), "done_at": round(t1, 6),
                        "latency_ms": round((t1 - t0) * 1000, 3),
                        "gap_actual_ms": None if last_end is None else round((t0 - last_end) * 1000, 3),
                        "status": status, "error": err})
            with lock:
                logf.write(json.dumps(rec) + "\n")
                totals["requests"] += 1
                totals["errors"] += bool(err)
            last_end = t1
        if conn is not None:
            conn.close()

    threads = [threading.Thread(target=lane_run, args=(i,), daemon=True)
               for i in range(1, len(plans) + 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.0, deadline - time.time()) + 1)
    print(json.dumps({"client": "done", **totals}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
