#!/usr/bin/env python3
"""Generators of the hostile shapes scripts/hostile-memory.sh measures
(issue 23): small programs, so that a shape of a million connections costs
no file in the repository.

    gen.py syns OUT N           N unanswered SYNs to one upstream (1 per ms,
                                resent after 1 s and 3 s): connect timeouts
    gen.py nginx-errors OUT N   N nginx `connect() failed` lines against them
    gen.py error-log-mb OUT MB  MB of nginx error lines
    gen.py fin-pending OUT N    N connections whose client sends a request
                                and then FIN, never answered
    gen.py races-burst OUT N    N keep-alive races within 300 ms

Captures are classic pcap, ns resolution, raw IPv4; addresses are private.
"""
import struct, sys, gzip

def tcp(src, dst, sport, dport, seq, ack, flags, payload=b""):
    # IPv4 + TCP, 20-byte headers; checksums left 0 (racecap does not check them).
    tcp_h = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xffffffff, ack & 0xffffffff, 5 << 4, flags, 65535, 0, 0)
    total = 20 + len(tcp_h) + len(payload)
    ip_h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, 0, 0x4000, 64, 6, 0, bytes(src), bytes(dst))
    return ip_h + tcp_h + payload

class Pcap:
    def __init__(self, path):
        self.f = open(path, "wb")
        # ns-resolution classic pcap, raw IPv4 (LINKTYPE_IPV4 = 228).
        self.f.write(struct.pack("<IHHiIII", 0xa1b23c4d, 2, 4, 0, 0, 65535, 228))
    def put(self, ts_ns, pkt):
        self.f.write(struct.pack("<IIII", ts_ns // 10**9, ts_ns % 10**9, len(pkt), len(pkt)))
        self.f.write(pkt)

SYN, ACK, FIN, RST, PSH = 0x02, 0x10, 0x01, 0x04, 0x08
T0 = 1_780_000_000 * 10**9

def client(i):
    return [10, 100 + (i >> 16) % 100, (i >> 8) & 0xff, i & 0xff]

def syns(path, n, retransmit):
    """n unanswered SYNs to one upstream, one per ms, each resent after 1 s and 3 s."""
    p = Pcap(path)
    server = [10, 1, 0, 1]
    evs = []
    for i in range(n):
        t = T0 + i * 1_000_000
        for k, d in enumerate([0, 1, 3][: 1 + 2 * retransmit]):
            evs.append((t + d * 10**9, i))
    evs.sort()
    for t, i in evs:
        p.put(t, tcp(client(i), server, 20000 + i % 40000, 8080, 1000 + i, 0, SYN))

def nginx_errors(path, n):
    """n nginx `connect() failed` lines, one per ms, against the SYNs above."""
    import datetime
    with open(path, "w") as f:
        for i in range(n):
            t = datetime.datetime.fromtimestamp((T0 + i * 1_000_000) / 1e9, datetime.timezone.utc)
            c = client(i)
            f.write(t.strftime("%Y/%m/%d %H:%M:%S") +
                    f" [error] 7#7: *{i} connect() failed (110: Connection timed out) while connecting to upstream, client: {c[0]}.{c[1]}.{c[2]}.{c[3]}, server: _, request: \"GET /api/{i} HTTP/1.1\", upstream: \"http://10.1.0.1:8080/api/{i}\", host: \"api\"\n")

def error_log_mb(path, mb):
    line = "2026/11/26 18:05:24 [error] 1#1: *4 upstream prematurely closed connection while reading response header from upstream, client: 10.0.0.9, server: , request: \"GET /a HTTP/1.1\", upstream: \"http://10.0.0.2:3000/a\", host: \"x\"\n"
    with open(path, "w") as f:
        for _ in range(mb * (1 << 20) // len(line)):
            f.write(line)

def fin_pending(path, n):
    """n connections whose client sends a request and then FIN, unanswered."""
    p = Pcap(path)
    server = [10, 2, 0, 1]
    req = b"GET /slow HTTP/1.1\r\nHost: api\r\n\r\n"
    for i in range(n):
        t = T0 + i * 10_000
        c, sp = client(i), 20000 + i % 40000
        cs, ss = 1000 + i, 5000 + i
        p.put(t, tcp(c, server, sp, 80, cs, 0, SYN))
        p.put(t + 100_000, tcp(server, c, 80, sp, ss, cs + 1, SYN | ACK))
        p.put(t + 200_000, tcp(c, server, sp, 80, cs + 1, ss + 1, ACK))
        p.put(t + 300_000, tcp(c, server, sp, 80, cs + 1, ss + 1, ACK | PSH, req))
        p.put(t + 400_000, tcp(c, server, sp, 80, cs + 1 + len(req), ss + 1, ACK | FIN))

def races_burst(path, n, window_ns):
    """n keep-alive races (server FIN after a response, then a request, RST) within window_ns."""
    p = Pcap(path)
    req = b"GET /r HTTP/1.1\r\nHost: api\r\n\r\n"
    resp = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    evs = []
    for i in range(n):
        server = [10, 3, (i >> 8) & 0x3f, i & 0xff]
        t = T0 + (i * window_ns) // n
        c, sp = client(i), 20000 + i % 40000
        cs, ss = 1000 + i, 5000 + i
        pk = [
            (0, c, server, sp, 80, cs, 0, SYN, b""),
            (10, server, c, 80, sp, ss, cs + 1, SYN | ACK, b""),
            (20, c, server, sp, 80, cs + 1, ss + 1, ACK, b""),
            (30, c, server, sp, 80, cs + 1, ss + 1, ACK | PSH, req),
            (40, server, c, 80, sp, ss + 1, cs + 1 + len(req), ACK | PSH, resp),
            (50, server, c, 80, sp, ss + 1 + len(resp), cs + 1 + len(req), ACK | FIN, b""),
            (60, c, server, sp, 80, cs + 1 + len(req), ss + 1 + len(resp), ACK | PSH, req),
            (70, server, c, 80, sp, ss + 2 + len(resp), 0, RST, b""),
        ]
        for (d, a, b, x, y, s, k, fl, pl) in pk:
            evs.append((t + d * 1000, tcp(a, b, x, y, s, k, fl, pl)))
    evs.sort(key=lambda e: e[0])
    for t, pkt in evs:
        p.put(t, pkt)

if __name__ == "__main__":
    what, out = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    {"syns": lambda: syns(out, n, True),
     "nginx-errors": lambda: nginx_errors(out, n),
     "error-log-mb": lambda: error_log_mb(out, n),
     "fin-pending": lambda: fin_pending(out, n),
     "races-burst": lambda: races_burst(out, n, 300_000_000)}[what]()
