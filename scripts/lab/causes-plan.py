#!/usr/bin/env python3
"""Client plans for record-causes.sh (client.py --plan), one list of steps
{"kind", "gap_ms", "method"[, "path"]} per lane; gaps from the end of the
previous response.

  causes-plan.py restart|app-reset|peer-gone|nat-drop|nat-rst LANES > plan.json

restart:   steady load, gaps 30-800 ms (a fixed pseudo-random sequence), so
           pooled connections sit idle at scattered ages when the backend
           stops gracefully.
app-reset: per lane a path ".../reset" after idle gaps of 0.5-3 s on the
           reused connection (the backend resets it), reuses up to 4.3 s that
           succeed, and one 7 s gap (the backend's idle close at 6.0 s).
nat-drop, nat-rst: reuses after 2.5-3 s (within the middlebox's 4 s flow
           idle timeout) and after 4.5-7 s (beyond it).
peer-gone: a few requests, then one long idle gap (14-18 s) across the
           address's move, then requests again.
"""
import json
import random
import sys

name, lanes = sys.argv[1], int(sys.argv[2])
plans = []
for lane in range(1, lanes + 1):
    method = "GET" if lane <= (lanes + 1) // 2 else "POST"
    steps = [{"kind": "first", "gap_ms": 0, "method": method}]
    if name == "restart":
        rng = random.Random(21 * 100 + lane)
        steps += [{"kind": "load", "gap_ms": rng.randint(30, 800), "method": "GET"} for _ in range(50)]
    elif name == "app-reset":
        for i, g in enumerate([500, 1160, 2000, 3000][lane % 4:] + [500, 1160, 2000, 3000][: lane % 4]):
            steps.append({"kind": "short", "gap_ms": 300, "method": method})
            steps.append({"kind": "reset", "gap_ms": g, "method": method, "path": f"/lane{lane}/{i}/reset"})
            steps.append({"kind": "short", "gap_ms": 300, "method": method})
            steps.append({"kind": "reuse", "gap_ms": 4300 - 400 * i, "method": method})
        steps.append({"kind": "idle_close", "gap_ms": 7000, "method": method})
        steps.append({"kind": "short", "gap_ms": 300, "method": method})
    elif name in ("nat-drop", "nat-rst"):
        for g in ([4500, 2500, 6000] if lane % 2 else [2500, 5000, 3000, 7000]):
            steps.append({"kind": "short", "gap_ms": 300, "method": method})
            steps.append({"kind": "flow_idle" if g > 4000 else "reuse", "gap_ms": g, "method": method})
        steps.append({"kind": "short", "gap_ms": 300, "method": method})
    elif name == "peer-gone":
        steps += [{"kind": "short", "gap_ms": 300, "method": method} for _ in range(3)]
        steps.append({"kind": "across_move", "gap_ms": 14000 + 1000 * (lane - 1), "method": method})
        steps += [{"kind": "short", "gap_ms": 300, "method": method} for _ in range(2)]
    else:
        sys.exit(f"unknown scenario {name}")
    plans.append(steps)
json.dump(plans, sys.stdout, indent=1)
