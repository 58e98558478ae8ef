#!/usr/bin/env python3
"""Bounded keep-alive client for record-proxy-legs.sh: per idle gap, one TCP
connection to the proxy carrying two GETs, the second after the gap, so that
the proxy sends it on a pooled upstream connection that may race the
backend's idle close. HAProxy 2.6 then closes this connection without a
response (the request was not the connection's first). Logs each request's
times, its connection's local port and what came back."""
import argparse
import socket
import time

p = argparse.ArgumentParser()
p.add_argument("--host", required=True)
p.add_argument("--port", type=int, required=True)
p.add_argument("--gaps-ms", required=True, help="comma-separated idle gaps")
p.add_argument("--max-seconds", type=float, default=120)
p.add_argument("--log", required=True)
a = p.parse_args()
deadline = time.monotonic() + a.max_seconds
out = open(a.log, "w")


def one(s, path, port):
    """Sends a GET on s and reads one response (Content-Length framed)."""
    t = time.time()
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: lab\r\n\r\n".encode())
    data = b""
    status = "none"
    try:
        while True:
            head, sep, body = data.partition(b"\r\n\r\n")
            if sep:
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    k, _, v = line.partition(b":")
                    if k.strip().lower() == b"content-length":
                        length = int(v)
                if len(body) >= length:
                    status = head.split(b" ", 2)[1].decode()
                    break
            chunk = s.recv(65536)
            if not chunk:
                status = "closed" if not data else "cut"
                break
            data += chunk
    except ConnectionResetError:
        status = "reset"
    out.write(f"{t:.6f} {time.time():.6f} {port} {path} {status}\n")
    out.flush()
    return status


for i, gap in enumerate(int(g) for g in a.gaps_ms.split(",")):
    if time.monotonic() > deadline:
        break
    s = socket.create_connection((a.host, a.port), timeout=10)
    port = s.getsockname()[1]
    if one(s, f"/c{i}/1", port) == "200":
        time.sleep(gap / 1000)
        one(s, f"/c{i}/2", port)
    s.close()
    time.sleep(0.3)
