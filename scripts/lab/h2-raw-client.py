#!/usr/bin/python3
"""Raw HTTP/2 (h2c, prior knowledge) client for the lab (record-h2.sh raw-reuse):
a session per round, one GET answered, then an idle gap, then a second GET on
the same session whether or not the server's GOAWAY (and FIN) came in
between — a pool that does not read its idle connections before reusing
them. Frames are written by hand (HPACK by python3-hpack), so nothing stops
the stream after a GOAWAY. Logs one line per stream:

    SENT_AT PORT STREAM PATH OUTCOME GOAWAY_BEFORE

OUTCOME is the response status, `rst_stream`, `reset` (the connection was
reset), `closed` (EOF, no answer) or `timeout`; GOAWAY_BEFORE says whether a
GOAWAY had been read when the stream was sent. Bounded in rounds and time."""
import argparse
import select
import socket
import struct
import time

import hpack

p = argparse.ArgumentParser()
p.add_argument("--host", required=True)
p.add_argument("--port", type=int, required=True)
p.add_argument("--gaps-ms", required=True, help="comma-separated idle gaps, one round each")
p.add_argument("--max-seconds", type=float, default=90)
p.add_argument("--log", required=True)
a = p.parse_args()
deadline = time.monotonic() + a.max_seconds
out = open(a.log, "w")

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def frame(ty, flags, stream, body=b""):
    return struct.pack(">I", len(body))[1:] + bytes([ty, flags]) + struct.pack(">I", stream) + body


class Session:
    def __init__(self):
        self.s = socket.create_connection((a.host, a.port), timeout=5)
        self.port = self.s.getsockname()[1]
        self.enc = hpack.Encoder()
        self.dec = hpack.Decoder()
        self.buf = b""
        self.goaway = False
        self.eof = False
        self.next_id = 1
        self.s.sendall(PREFACE + frame(4, 0, 0))

    def pump(self, wait):
        """Reads what arrives within `wait` seconds; returns frames read."""
        frames = []
        end = time.monotonic() + wait
        while not self.eof:
            left = end - time.monotonic()
            if left <= 0:
                break
            r, _, _ = select.select([self.s], [], [], left)
            if not r:
                break
            try:
                chunk = self.s.recv(65536)
            except ConnectionResetError:
                self.eof = "reset"
                break
            if not chunk:
                self.eof = "closed"
                break
            self.buf += chunk
            while len(self.buf) >= 9:
                n = struct.unpack(">I", b"\0" + self.buf[:3])[0]
                if len(self.buf) < 9 + n:
                    break
                ty, fl = self.buf[3], self.buf[4]
                sid = struct.unpack(">I", self.buf[5:9])[0] & 0x7FFFFFFF
                body = self.buf[9 : 9 + n]
                self.buf = self.buf[9 + n :]
                if ty == 4 and not fl & 1:
                    self.s.sendall(frame(4, 1, 0))  # SETTINGS ACK
                elif ty == 6 and not fl & 1:
                    self.s.sendall(frame(6, 1, 0, body))  # PING ACK
                elif ty == 7:
                    self.goaway = True
                frames.append((ty, fl, sid, body))
            if frames and wait == 0:
                break
        return frames

    def get(self, path):
        sid, self.next_id = self.next_id, self.next_id + 2
        goaway_before = self.goaway
        block = self.enc.encode(
            [(":method", "GET"), (":scheme", "http"), (":path", path), (":authority", "backend")]
        )
        t = time.time()
        try:
            self.s.sendall(frame(1, 5, sid, block))
        except OSError:
            out.write(f"{t:.6f} {self.port} {sid} {path} reset {int(goaway_before)}\n")
            return "reset"
        outcome = "timeout"
        until = time.monotonic() + 3
        while time.monotonic() < until and outcome == "timeout":
            for ty, fl, s, body in self.pump(0.2):
                if s != sid:
                    continue
                if ty == 1:
                    status = dict(self.dec.decode(body)).get(":status", "?")
                    outcome = str(status)
                elif ty == 3:
                    outcome = "rst_stream"
            if self.eof and outcome == "timeout":
                outcome = self.eof
        out.write(f"{t:.6f} {self.port} {sid} {path} {outcome} {int(goaway_before)}\n")
        out.flush()
        return outcome


for i, gap in enumerate(int(g) for g in a.gaps_ms.split(",")):
    if time.monotonic() + gap / 1000 + 4 > deadline:
        print("time bound reached")
        break
    sess = Session()
    sess.pump(0.1)
    sess.get(f"/round{i}-first")
    # Idle, then reuse whatever was read meanwhile (a GOAWAY, the EOF).
    time.sleep(gap / 1000)
    sess.pump(0.05)
    sess.get(f"/round{i}-after-{gap}")
    sess.s.close()
    time.sleep(0.3)
print("client done")
