#!/usr/bin/env python3
"""Client plans (per-lane step lists) for record-shapes.sh's scenarios.

  plans.py NAME [--lanes N] > plan.json

Each lane is a list of steps {"kind", "gap_ms", "method"[, "path"]}; client.py
(--plan) and client_pool.py read it. Sweep steps sit around each backend's
real idle close as seen from the client (see scripts/lab/README.md); a short
step (300 ms) before every sweep step makes the pooled connection fresh.
Environment knobs: SWEEP_BASE_MS, SWEEP_FROM, SWEEP_TO, SWEEP_STEP (ms, may be
fractional), FINE_BASE_MS, FINE_FROM, FINE_TO, FINE_STEP (gunicorn only).
"""
import json
import os
import sys


def env(name, default):
    return float(os.environ.get(name, default))


def frange(a, b, step):
    out, i = [], 0
    while a + i * step <= b + 1e-9:
        out.append(round(a + i * step, 3))
        i += 1
    return out


def spread(values, lanes):
    """Neighbouring values to different lanes; odd lanes run their share backwards."""
    per = [values[i::lanes] for i in range(lanes)]
    return [list(reversed(p)) if li % 2 else p for li, p in enumerate(per)]


def sweep_lanes(gaps, lanes, method="GET", short=300):
    plans = []
    for li, offs in enumerate(spread(gaps, lanes)):
        m = method[li] if isinstance(method, list) else method
        steps = [{"kind": "first", "gap_ms": 0, "method": m}]
        for g in offs:
            steps.append({"kind": "short", "gap_ms": short, "method": m})
            steps.append({"kind": "sweep", "gap_ms": g, "method": m})
        steps.append({"kind": "short", "gap_ms": short, "method": m})
        plans.append(steps)
    return plans


def main():
    name = sys.argv[1]
    lanes = int(sys.argv[sys.argv.index("--lanes") + 1]) if "--lanes" in sys.argv else 4
    if name in ("apache", "uvicorn"):
        # idle timer starts at the response's end: close at done - one-way + timeout
        base = env("SWEEP_BASE_MS", 2000)
        gaps = [base + o for o in frange(env("SWEEP_FROM", -70), env("SWEEP_TO", 30), env("SWEEP_STEP", 5))]
        plans = sweep_lanes(gaps, lanes)
    elif name == "gunicorn":
        # gaps from the previous request's start (client.py --gap-from sent): with one
        # worker per lane the worker's 1 s poll ticks start at the request's arrival and
        # the idle deadline (response end + 2 s) is met at the second tick, so the close
        # comes about 2005 ms after the previous request (measured in a first run).
        # Coarse steps after it: FIN -> request -> RST; fine steps around it: a request
        # that arrives between the tick and close() is never read, so close() sends an
        # RST and no FIN.
        base = env("SWEEP_BASE_MS", 2005)
        coarse = [base + o for o in frange(env("SWEEP_FROM", 5), env("SWEEP_TO", 40), env("SWEEP_STEP", 5))]
        fbase = env("FINE_BASE_MS", base)
        fine = [fbase + o for o in frange(env("FINE_FROM", -4), env("FINE_TO", 3), env("FINE_STEP", 0.2))]
        plans = sweep_lanes(sorted(coarse + fine), lanes)
    elif name == "caddy":
        # Node: FIN at the response's end + keepAliveTimeout 2000 + 1000 ms buffer
        base = env("SWEEP_BASE_MS", 3000)
        gaps = [base + o for o in frange(env("SWEEP_FROM", -70), env("SWEEP_TO", 30), env("SWEEP_STEP", 5))]
        plans = sweep_lanes(gaps, lanes, method=["GET", "POST", "GET", "POST"][:lanes])
    elif name == "client-lib":
        # reuse seconds after Node's FIN (stale), and one gap just before it (crossed)
        longs = [[4000, 6000, 2985], [3500, 5000, 2975], [3300, 4500, 2990], [3200, 7000, 2980]]
        plans = []
        for li in range(lanes):
            steps = [{"kind": "first", "gap_ms": 0}]
            for g in longs[li % 4]:
                steps.append({"kind": "short", "gap_ms": 300})
                steps.append({"kind": "stale" if g > 3000 else "sweep", "gap_ms": g})
            steps.append({"kind": "short", "gap_ms": 300})
            plans.append(steps)
    elif name == "faults":
        plans = []
        near_close = [2975, 2985, 2965, 2990]  # Node real close 3000 ms: maybe a genuine race
        for li in range(lanes):
            lane = li + 1
            reset_method = "GET" if lane <= 2 else "POST"
            seq = 0
            steps = []

            def add(kind, gap, method="GET", fault=None):
                nonlocal seq
                st = {"kind": kind, "gap_ms": gap, "method": method}
                if fault:
                    st["path"] = f"/lane{lane}/{seq}/{fault}"
                steps.append(st)
                seq += 1

            add("first", 0)
            add("short", 300)
            add("fault", 300, fault="truncated")
            add("short", 300)
            add("fault", 300, reset_method, fault="reset")
            add("short", 300)
            add("fault", 300, fault="slow")
            add("short", 300)
            if lane in (1, 3):
                add("fault", 300, fault="refused")
                add("short", 300)
            add("sweep", near_close[li % 4])
            add("short", 300)
            plans.append(steps)
    else:
        sys.exit(f"unknown scenario {name}")
    json.dump(plans, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
