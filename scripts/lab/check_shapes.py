#!/usr/bin/env python3
"""Check a record-shapes.sh recording's backend capture against its truth, with tshark.

  scripts/lab/check_shapes.py fixtures/lab/apache        (prefix of NAME.*)

For every truth race, the connection proxy_ip:proxy_port <-> backend in
NAME.backend.pcap is classified from the packets alone:
  "crossed"/"stale"  server FIN, then client data, then a server RST; stale if
                     the data acknowledges the FIN
  "lingering"        server FIN, then client data, no server RST (or client data
                     the server never answered, then its FIN, no RST)
  "reset"            client data, then a server RST, and no server FIN at all
and compared with the truth's kind. Every server idle close must show a server
FIN (or, for a "reset" race, the RST) close to the logged close. For faults,
each fault is looked for on the wire (truncated: server FIN after fewer body
bytes than announced; app_reset: server RST after the request with no FIN;
timeout: client FIN about proxy_read_timeout after the request; refused: SYN
answered by RST). SYNs vs truth connections, and RSTs outside races and faults,
are reported. Prints a JSON report; exits 1 if a check fails.
"""
import json
import subprocess
import sys
from collections import defaultdict

FIELDS = ["frame.time_epoch", "ip.src", "tcp.srcport", "ip.dst", "tcp.dstport",
          "tcp.flags", "tcp.seq", "tcp.ack", "tcp.len"]


def packets(pcap):
    out = subprocess.run(
        ["tshark", "-r", pcap, "-n", "-o", "tcp.relative_sequence_numbers:FALSE",
         "-Y", "tcp", "-T", "fields", "-E", "separator=\t"] + sum((["-e", f] for f in FIELDS), []),
        check=True, capture_output=True, text=True).stdout
    by_conn = defaultdict(list)
    for line in out.splitlines():
        v = line.split("\t")
        p = {"t": float(v[0]), "src": f"{v[1]}:{v[2]}", "dst": f"{v[3]}:{v[4]}",
             "flags": int(v[5], 16), "seq": int(v[6]), "ack": int(v[7]) if v[7] else 0, "len": int(v[8])}
        by_conn[frozenset((p["src"], p["dst"]))].append(p)
    return by_conn


def fin(p):
    return p["flags"] & 0x01


def rst(p):
    return p["flags"] & 0x04


def syn(p):
    return p["flags"] & 0x12 == 0x02


def incarnation(pkts, t_near):
    """Packets of the connection incarnation (SYN to SYN) that contains t_near."""
    starts = [i for i, p in enumerate(pkts) if syn(p)] or [0]
    best = starts[0]
    for i in starts:
        if pkts[i]["t"] <= t_near + 0.05:
            best = i
    nxt = next((i for i in starts if i > best), len(pkts))
    return pkts[best:nxt]


def wire_race(pkts, client, server, t_near):
    pk = incarnation(pkts, t_near)
    sfins = [p for p in pk if p["src"] == server and fin(p)]
    srst = [p for p in pk if p["src"] == server and rst(p)]
    # the raced request: client data after the last server data
    last_srv_data = max((i for i, p in enumerate(pk) if p["src"] == server and p["len"] > 0), default=-1)
    req = next((p for p in pk[last_srv_data + 1:] if p["src"] == client and p["len"] > 0), None)
    if req is None:
        return {"kind": None, "why": "no client data after the last server data"}
    f = sfins[0] if sfins else None
    r_after = [p for p in srst if p["t"] >= req["t"]]
    if f is None:
        kind = "reset" if r_after else None
    elif f["t"] <= req["t"]:
        if r_after:
            kind = "stale" if req["ack"] >= f["seq"] + f["len"] + 1 else "crossed"
        else:
            kind = "lingering"
    elif not r_after:
        kind = "lingering"  # the request arrived unread just before the FIN; never answered
    else:
        kind = None
    return {"kind": kind, "order": None if f is None else ("fin,request" if f["t"] <= req["t"] else "request,fin"),
            "fin_at": f["t"] if f else None, "request_at": req["t"],
            "rst_at": r_after[0]["t"] if r_after else None, "server_rsts": len(srst)}


def main():
    prefix = sys.argv[1]
    truth = json.load(open(prefix + ".truth.json"))
    proxy_ip = truth["proxy_ip"]
    backend = packets(prefix + ".backend.pcap")
    failures, races, race_conns = [], [], set()
    for r in truth["races"]:
        client = f'{proxy_ip}:{r["proxy_port"]}'
        key = frozenset((client, r["backend"]))
        race_conns.add(key)
        w = wire_race(backend.get(key, []), client, r["backend"], r["server_closed_at"] or r["request_time"])
        ok = w.get("kind") == r["kind"]
        e = {"path": r["path"], "proxy_port": r["proxy_port"], "truth_kind": r["kind"], "wire": w, "agree": ok}
        if w.get("fin_at") and r.get("server_closed_at"):
            e["fin_minus_logged_close_ms"] = round((w["fin_at"] - r["server_closed_at"]) * 1000, 3)
        if not ok:
            failures.append(f'{r["path"]}: truth kind {r["kind"]}, wire {w.get("kind")} ({w.get("why", "")})')
        races.append(e)

    offsets = []
    for c in truth["server_idle_closes"]:
        client = f'{proxy_ip}:{c["proxy_port"]}'
        pk = backend.get(frozenset((client, c["backend"])), [])
        ends = [p["t"] for p in pk if p["src"] == c["backend"] and (fin(p) or rst(p))]
        if not ends:
            failures.append(f'idle close {c["proxy_port"]}: no server FIN/RST in backend pcap')
            continue
        d = min(ends, key=lambda t: abs(t - c["closed_at"]))
        offsets.append(round((d - c["closed_at"]) * 1000, 3))
        if abs(d - c["closed_at"]) > 0.05:
            failures.append(f'idle close {c["proxy_port"]}: nearest server FIN/RST {offsets[-1]} ms from the log')

    fault_conns, fault_checks = set(), []
    for f in truth.get("faults", []):
        fc = {"kind": f["kind"], "path": f["path"]}
        if f["kind"] == "refused":
            pk = [p for k, v in backend.items() if f["backend"] in k for p in v]
            near = [p for p in pk if abs(p["t"] - f["request_at"]) < 1.0]
            fc["ok"] = any(syn(p) for p in near) and any(rst(p) and p["src"] == f["backend"] for p in near)
            for k in backend:
                if f["backend"] in k:
                    fault_conns.add(k)
        else:
            client = f'{proxy_ip}:{f["proxy_port"]}'
            key = frozenset((client, f["backend"]))
            fault_conns.add(key)
            pk = incarnation(backend.get(key, []), f["request_at"])
            srv = [p for p in pk if p["src"] == f["backend"]]
            after = [p for p in srv if p["t"] >= f["request_at"] - 0.01]
            if f["kind"] == "truncated":
                body = sum(p["len"] for p in after if not fin(p) and not rst(p))
                sfin = next((p for p in after if fin(p)), None)
                fc.update(ok=sfin is not None, server_bytes_after_request=body,
                          fin_minus_logged_ms=round((sfin["t"] - f["fault_at"]) * 1000, 3) if sfin else None)
            elif f["kind"] == "app_reset":
                r = next((p for p in after if rst(p)), None)
                nofin = not any(fin(p) for p in srv if r and p["t"] <= r["t"])
                fc.update(ok=r is not None and nofin,
                          rst_minus_logged_ms=round((r["t"] - f["fault_at"]) * 1000, 3) if r else None)
            elif f["kind"] == "timeout":
                cfin = next((p for p in pk if p["src"] == client and fin(p) and p["t"] >= f["request_at"]), None)
                fc.update(ok=cfin is not None,
                          proxy_fin_after_request_ms=round((cfin["t"] - f["request_at"]) * 1000, 3) if cfin else None)
        if not fc.get("ok"):
            failures.append(f'fault {f["kind"]} {f["path"]}: not seen on the wire as expected')
        fault_checks.append(fc)

    extra = [sorted(k) for k, pk in backend.items() if any(rst(p) for p in pk)
             and k not in race_conns and k not in fault_conns]
    syns = sum(1 for pk in backend.values() for p in pk if syn(p))
    refused_syns = sum(1 for k, pk in backend.items() for p in pk if syn(p)
                       and any(f["kind"] == "refused" and f["backend"] in k for f in truth.get("faults", [])))
    if syns - refused_syns != truth["connections"]:
        failures.append(f'backend pcap has {syns - refused_syns} SYNs (besides refused), truth has {truth["connections"]} connections')
    kinds = defaultdict(int)
    for e in races:
        kinds[str(e["wire"].get("kind"))] += 1
    report = {"scenario": truth["scenario"], "races": len(races),
              "races_agree": sum(e["agree"] for e in races), "wire_kinds": dict(kinds),
              "server_close_minus_logged_ms": {"count": len(offsets), "min": min(offsets, default=None),
                                               "max": max(offsets, default=None)},
              "faults": fault_checks, "backend_syns": syns,
              "rst_connections_outside_races_and_faults": extra,
              "failures": failures, "detail": races}
    print(json.dumps(report, indent=1))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
