#!/usr/bin/env python3
"""Check a lab recording's captures against its ground truth, with tshark.

  scripts/lab/check.py fixtures/lab/get-races        (prefix of NAME.*)

For every truth race: in NAME.backend.pcap the connection proxy_ip:proxy_port
<-> backend must show a server FIN, then a client data segment, then a server
RST; the race kind is read from the client's ACK number on that segment
("crossed": it does not acknowledge the FIN; "stale": it does). In
NAME.proxy-any.pcap the order in which the request and the FIN appear is
reported. Every truth server idle close must show a server FIN close to Node's
close time. RSTs on connections that are not truth races are reported.
Prints a JSON report; exits 1 if a check fails.
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
             "flags": int(v[5], 16), "seq": int(v[6]), "ack": int(v[7]) if v[7] else 0,
             "len": int(v[8])}
        by_conn[frozenset((p["src"], p["dst"]))].append(p)
    return by_conn


def fin(p):
    return p["flags"] & 0x01


def rst(p):
    return p["flags"] & 0x04


def race_pattern(pkts, client, server, t_near):
    """Last server FIN before the race, the next client data segment, then a server RST."""
    # a port may be reused; take the connection incarnation whose FIN is closest to t_near
    fins = [i for i, p in enumerate(pkts) if p["src"] == server and fin(p)]
    if not fins:
        return {"ok": False, "why": "no server FIN"}
    fi = min(fins, key=lambda i: abs(pkts[i]["t"] - t_near))
    f = pkts[fi]
    fin_end = f["seq"] + f["len"] + 1
    # the raced request: the first client data after the server's last response before the FIN
    last_resp = max((i for i in range(fi) if pkts[i]["src"] == server and pkts[i]["len"] > 0), default=-1)
    req = next((p for p in pkts[last_resp + 1:] if p["src"] == client and p["len"] > 0), None)
    if req is None:
        return {"ok": False, "why": "no client data after the last exchange"}
    r = next((p for p in pkts if p["src"] == server and rst(p) and p["t"] >= req["t"]), None)
    kind = "stale" if req["ack"] >= fin_end else "crossed"
    idx_req, idx_fin = pkts.index(req), fi
    return {
        "ok": r is not None,
        "why": None if r is not None else "no server RST after the request",
        "kind": kind,
        "fin_at": f["t"], "request_at": req["t"], "rst_at": r["t"] if r else None,
        "order_in_file": "fin,request" if idx_fin < idx_req else "request,fin",
        "request_ack": req["ack"], "fin_seq_end": fin_end,
    }


def main():
    prefix = sys.argv[1]
    truth = json.load(open(prefix + ".truth.json"))
    proxy_ip = truth["proxy_ip"]
    backend = packets(prefix + ".backend.pcap")
    proxy = packets(prefix + ".proxy-any.pcap")
    failures = []
    races = []
    race_conns = set()
    for r in truth["races"]:
        client = f'{proxy_ip}:{r["proxy_port"]}'
        key = frozenset((client, r["backend"]))
        race_conns.add(key)
        t_near = r["server_closed_at"] or r["request_time"]
        b = race_pattern(backend.get(key, []), client, r["backend"], t_near)
        p = race_pattern(proxy.get(key, []), client, r["backend"], t_near)
        entry = {"path": r["path"], "proxy_port": r["proxy_port"], "backend_pcap": b, "proxy_pcap": p}
        if b.get("ok"):
            entry["fin_vs_node_close_ms"] = round((b["fin_at"] - r["server_closed_at"]) * 1000, 3)
        else:
            failures.append(f'{r["path"]}: backend pcap: {b.get("why")}')
        races.append(entry)

    # server idle closes: a FIN from the backend near Node's close time
    fin_offsets = []
    for c in truth["server_idle_closes"]:
        client = f'{proxy_ip}:{c["proxy_port"]}'
        pk = backend.get(frozenset((client, c["backend"])), [])
        fins = [p["t"] for p in pk if p["src"] == c["backend"] and fin(p)]
        if not fins:
            failures.append(f'idle close {c["proxy_port"]}: no server FIN in backend pcap')
            continue
        d = min(fins, key=lambda t: abs(t - c["closed_at"]))
        fin_offsets.append(round((d - c["closed_at"]) * 1000, 3))

    extra_rst = []
    for key, pk in backend.items():
        if any(rst(p) for p in pk) and key not in race_conns:
            extra_rst.append(sorted(key))
    if extra_rst:
        failures.append(f"RST on connections that are not truth races: {extra_rst}")

    unfinished = [sorted(k) for k, pk in backend.items() if not any(fin(p) or rst(p) for p in pk)]
    if unfinished:
        failures.append(f"connections without FIN or RST in backend pcap: {unfinished}")

    syns = sum(1 for pk in backend.values() for p in pk if p["flags"] & 0x12 == 0x02)
    if syns != truth["connections"]:
        failures.append(f'backend pcap has {syns} SYNs, truth has {truth["connections"]} connections')

    kinds = defaultdict(int)
    for e in races:
        kinds[e["backend_pcap"].get("kind", "?")] += 1
    report = {
        "scenario": truth["scenario"],
        "races": len(races),
        "races_confirmed": sum(1 for e in races if e["backend_pcap"].get("ok")),
        "kinds": dict(kinds),
        "proxy_pcap_order": dict(
            (o, sum(1 for e in races if e["proxy_pcap"].get("order_in_file") == o))
            for o in ("request,fin", "fin,request")),
        "backend_pcap_order": dict(
            (o, sum(1 for e in races if e["backend_pcap"].get("order_in_file") == o))
            for o in ("request,fin", "fin,request")),
        "server_fin_minus_node_close_ms": {
            "count": len(fin_offsets),
            "min": min(fin_offsets) if fin_offsets else None,
            "max": max(fin_offsets) if fin_offsets else None,
        },
        "backend_syns": syns,
        "backend_rst_connections": sum(1 for pk in backend.values() if any(rst(p) for p in pk)),
        "failures": failures,
        "detail": races,
    }
    print(json.dumps(report, indent=1))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
