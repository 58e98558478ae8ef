#!/usr/bin/env python3
"""Ground truth for record-shapes.sh's recordings, from logs only.

  truth_shapes.py --meta fixtures/lab/NAME.meta.json --dir fixtures/lab --out fixtures/lab/NAME.truth.json

Witnesses (never a packet tool):
  apache, gunicorn, uvicorn  the backend's syscall log (NAME.backend-strace.log:
                             strace -f -ttt -yy of every server process, TCP
                             lines only) + nginx's access and error logs + the
                             client log
  caddy                      Node's socket log + Caddy's syscall log
                             (NAME.caddy-strace.log) + Caddy's logs + client log
  client-lib                 Node's socket log + the client's own log
  faults                     faults.js's socket and fault log + nginx's logs +
                             client log

Race kinds: "crossed" (the server's FIN came first, the request was sent before
the FIN could have reached the sender: request time < close + one-way delay),
"stale" (sent after that), "reset" (RST with no FIN: the server closed with the
request unread; nginx logs "reset by peer"), "lingering" (FIN, then the server
read and discarded the request: no RST, no response).
"""
import argparse
import json
import os
import re
import statistics
import sys
from collections import defaultdict

ACCESS_RE = re.compile(
    r'^(?P<msec>\d+\.\d+) "(?P<request>[^"]*)" (?P<status>\d+) "(?P<ups_addr>[^"]*)" '
    r'"(?P<ups_status>[^"]*)" "(?P<ups_connect>[^"]*)" "(?P<ups_resp>[^"]*)" '
    r'(?P<request_time>[\d.]+) (?P<remote_port>\d+)'
    r'(?: (?P<body_bytes>\d+) "(?P<ups_bytes>[^"]*)" "(?P<ups_len>[^"]*)")?$')
ERR_RE = re.compile(r'^(?P<date>\S+ \S+) \[(?P<level>\w+)\] [^:]*: \*\d+ (?P<msg>.*?), client: .*?'
                    r'request: "(?P<method>\S+) (?P<path>\S+) [^"]*"(?:, upstream: "(?P<upstream>[^"]*)")?')
LANE_RE = re.compile(r"^/lane(?P<lane>\d+)/(?P<seq>\d+)(?:/(?P<fault>\w+))?$")
ST_RE = re.compile(r'^(?P<pid>\d+) +(?P<t>\d+\.\d+) (?P<rest>.*)$')
SOCK_RE = re.compile(r'<TCP:\[(?P<a>[\d.]+:\d+)->(?P<b>[\d.]+:\d+)\]>')
CALL_RE = re.compile(r'^(?P<call>\w+)\((?P<fd>\d+)<TCP:\[(?P<a>[\d.]+:\d+)->(?P<b>[\d.]+:\d+)\]>(?P<args>.*)$')
RET_RE = re.compile(r'= (?P<ret>-?\d+)(?P<retrest>.*)$')
DATA_RE = re.compile(r', "(?P<data>(?:[^"\\]|\\.)*)"')


def read_jsonl(path):
    if not os.path.exists(path):
        return []
    return [json.loads(line) for line in open(path) if line.strip()]


def split_list(s):
    return [x.strip() for x in re.split(r"[,:](?!\d)", s) if x.strip()] if s and s != "-" else []


def unescape(s):
    return s.encode().decode("unicode_escape", errors="replace")


def parse_access(path):
    out = []
    if not os.path.exists(path):
        return out
    for line in open(path):
        m = ACCESS_RE.match(line.rstrip("\n"))
        if not m:
            continue
        d = m.groupdict()
        method, p = (d["request"].split(" ") + ["", ""])[:2]
        out.append({
            "logged_at": float(d["msec"]),
            "started_at": round(float(d["msec"]) - float(d["request_time"]), 3),
            "method": method, "path": p, "status": int(d["status"]),
            "upstream_addrs": split_list(d["ups_addr"]),
            "upstream_statuses": split_list(d["ups_status"]),
            "upstream_connect_times": split_list(d["ups_connect"]),
            "upstream_response_times": split_list(d["ups_resp"]),
            "body_bytes_sent": int(d["body_bytes"]) if d["body_bytes"] else None,
            "upstream_bytes_received": split_list(d["ups_bytes"]) if d["ups_bytes"] else None,
            "line": line.rstrip("\n"),
        })
    return out


def parse_error(path):
    out = []
    if not os.path.exists(path):
        return out
    for line in open(path):
        m = ERR_RE.match(line.strip())
        if m:
            out.append({**m.groupdict(), "line": line.strip()})
    return out


def error_kind(msg):
    if "prematurely closed" in msg:
        return "prematurely_closed"
    if "reset by peer" in msg:
        return "reset"
    if "timed out" in msg:
        return "timeout"
    if "Connection refused" in msg:
        return "refused"
    return "other"


def parse_strace(path, local_side):
    """Per TCP socket incarnation: open, reads, writes, shutdown, close, from strace -f -ttt -yy.

    local_side: "server" (accept4) or "client" (connect). Key: (local, remote).
    """
    socks = []
    cur = {}
    pending = {}  # pid -> (t, text) of an <unfinished ...> call
    if not os.path.exists(path):
        return socks

    def sock_for(local, remote, t):
        s = cur.get((local, remote))
        if s is None:
            s = {"local": local, "remote": remote, "open_at": None, "reads": [], "writes": [],
                 "eof_at": None, "read_error": None, "shutdown_at": None, "close_at": None}
            cur[(local, remote)] = s
            socks.append(s)
        return s

    def lines():
        """(t_call, t_return, text): an <unfinished ...> call joined with its resumption;
        an unfinished call that never resumes in the log is given with no return value."""
        for line in open(path):
            m = ST_RE.match(line.rstrip("\n"))
            if not m:
                continue
            pid, t, rest = m["pid"], float(m["t"]), m["rest"]
            if rest.endswith("<unfinished ...>"):
                if pid in pending:
                    tc, head = pending.pop(pid)
                    yield tc, tc, head
                pending[pid] = (t, rest[: -len("<unfinished ...>")].rstrip())
                continue
            rm = re.match(r'^<\.\.\. (\w+) resumed>(.*)$', rest)
            if rm:
                if pid in pending:
                    tc, head = pending.pop(pid)
                    yield tc, t, head + rm.group(2)
                continue
            yield t, t, rest
        for tc, head in pending.values():
            yield tc, tc, head

    for t_call, t, rest in lines():
        if rest.startswith("accept4(") or rest.startswith("accept("):
            sm = list(SOCK_RE.finditer(rest))
            if not sm:
                continue
            local, remote = sm[-1]["a"], sm[-1]["b"]
            s = cur.get((local, remote))
            if s is not None and s["close_at"] is not None:
                del cur[(local, remote)]  # port reuse: a new incarnation
            s = sock_for(local, remote, t)
            s["open_at"] = t
            continue
        cm = CALL_RE.match(rest)
        if not cm:
            continue
        call, local, remote, args = cm["call"], cm["a"], cm["b"], cm["args"]
        key = (local, remote)
        if key in cur and cur[key]["close_at"] is not None and call not in ("close",):
            del cur[key]
        s = sock_for(local, remote, t)
        if s["open_at"] is None:
            s["open_at"] = t_call
        ret = RET_RE.search(args)
        r = int(ret["ret"]) if ret else None
        dm = DATA_RE.search(args)
        data = unescape(dm["data"]) if dm else ""
        if call in ("read", "recvfrom", "recvmsg"):
            if r is None:
                continue  # a read whose result the log does not hold
            if r > 0:
                s["reads"].append({"t": t, "bytes": r, "data": data})
            elif r == 0:
                if s["eof_at"] is None:
                    s["eof_at"] = t
            elif "ECONNRESET" in args:
                s["read_error"] = {"t": t, "error": "ECONNRESET"}
        elif call in ("write", "sendto", "sendmsg", "writev", "sendfile"):
            if call == "writev":
                data = "".join(unescape(x) for x in re.findall(r'iov_base="((?:[^"\\]|\\.)*)"', args))
            if (r is not None and r > 0) or (r is None and data):
                s["writes"].append({"t": t_call, "bytes": r, "data": data})
            elif r is not None and r < 0:
                s.setdefault("write_errors", []).append({"t": t_call, "error": args[args.rfind("= -1") + 5:].split(" ")[0]})
        elif call == "shutdown":
            if s["shutdown_at"] is None:
                s["shutdown_at"] = t_call
                s["shutdown_how"] = "SHUT_WR" if "SHUT_WR" in args else ("SHUT_RDWR" if "SHUT_RDWR" in args else args)
        elif call == "close":
            if s["close_at"] is None:
                s["close_at"] = t_call
    # derived: requests (server side) or requests written (client side)
    for s in socks:
        s["requests"] = []
        s["responses"] = []
        reqs = s["reads"] if local_side == "server" else s["writes"]
        resps = s["writes"] if local_side == "server" else s["reads"]
        for x in reqs:
            mm = re.match(r"^(GET|POST|HEAD|PUT|DELETE|PATCH) (\S+) HTTP/1\.[01]", x["data"])
            if mm:
                s["requests"].append({"t": x["t"], "method": mm[1], "path": mm[2]})
        for x in resps:
            if x["data"].startswith("HTTP/1."):
                s["responses"].append({"t": x["t"], "status": int(x["data"][9:12]), "head": x["data"]})
    return socks


def last_response_end(s, before=None):
    """Time of the last write of response bytes (server side), before `before` if given."""
    ws = [w["t"] for w in s["writes"] if before is None or w["t"] <= before]
    return max(ws) if ws else None


def server_header(text):
    m = re.search(r"\r\n[Ss]erver: ([^\r\n]*)", text)
    return m.group(1) if m else None


def idle_stats(vals):
    return {"count": len(vals), "median": round(statistics.median(vals), 3) if vals else None,
            "min": min(vals) if vals else None, "max": max(vals) if vals else None}


class Truth:
    def __init__(self, meta, d):
        self.meta = meta
        self.dir = d
        self.name = meta["scenario"]
        self.delay = meta["delay_ms_each_way"] / 1000.0
        self.notes = []
        self.client = read_jsonl(self.f("client.log"))
        self.client_by_path = {c["path"]: c for c in self.client}
        self.access = parse_access(self.f("nginx-access.log"))
        self.errors = parse_error(self.f("nginx-error.log"))

    def f(self, suffix):
        return os.path.join(self.dir, f"{self.name}.{suffix}")

    def backend_of_lane(self, lane):
        return f'{self.meta["backend_ip"]}:{self.meta["backend_port_base"] + lane}'

    def kind_by_time(self, request_time, closed_at):
        if closed_at is None or request_time is None:
            return None
        return "crossed" if request_time < closed_at + self.delay else "stale"

    def error_for(self, path):
        return [e for e in self.errors if e["path"] == path]

    # ---- nginx in front of a strace'd backend --------------------------------------
    def nginx_strace(self):
        socks = parse_strace(self.f("backend-strace.log"), "server")
        socks = [s for s in socks if s["remote"].startswith(self.meta["proxy_ip"] + ":")]
        served = defaultdict(list)
        for s in socks:
            for r in s["requests"]:
                served[r["path"]].append(s)
        races = []
        race_socks = set()
        cands = [a for a in self.access if any(x in ("502", "504") for x in a["upstream_statuses"])
                 or self.error_for(a["path"])]
        for a in sorted(cands, key=lambda a: a["started_at"]):
            m = LANE_RE.match(a["path"])
            if not m:
                self.notes.append(f'race on unexpected path {a["path"]}')
                continue
            lane, seq = int(m["lane"]), int(m["seq"])
            t = a["started_at"]
            # witness 1: the socket that served the lane's previous request
            prev = None
            for sp in range(seq - 1, -1, -1):
                ss = served.get(f"/lane{lane}/{sp}")
                if ss:
                    prev = ss[-1]
                    break
            # witness 2: the last socket on that port the server closed/shut down before t (+0.1 s)
            port = self.meta["backend_port_base"] + lane
            closed = [s for s in socks if s["local"].endswith(f":{port}")
                      and (s["shutdown_at"] or s["close_at"] or 1e20) <= t + 0.1]
            last_closed = max(closed, key=lambda s: s["shutdown_at"] or s["close_at"]) if closed else None
            mapping = "previous-request-socket"
            if prev is None or last_closed is None or prev is not last_closed:
                self.notes.append(f'{a["path"]}: witnesses disagree')
                mapping = "ambiguous"
            s = prev or last_closed
            errs = self.error_for(a["path"])
            ek = error_kind(errs[0]["msg"]) if errs else None
            srv_close = (s["shutdown_at"] or s["close_at"]) if s else None
            late_reads = [r for r in s["requests"] if r["path"] == a["path"]] if s else []
            if late_reads and s["shutdown_at"] and late_reads[0]["t"] >= s["shutdown_at"]:
                kind = "lingering"
            elif ek == "reset":
                kind = "reset"
            else:
                kind = self.kind_by_time(t, srv_close)
            if late_reads and kind != "lingering":
                self.notes.append(f'{a["path"]}: the server read the raced request on the pooled socket')
            c = self.client_by_path.get(a["path"], {})
            tries = a["upstream_statuses"]
            race = {
                "proxy_port": int(s["remote"].split(":")[1]) if s else None,
                "backend": self.backend_of_lane(lane),
                "method": a["method"], "path": a["path"], "request_time": t,
                "kind": kind,
                "retried": len(tries) > 1,
                "client_status": c.get("status", a["status"]),
                "client_error": c.get("error"),
                "lane": lane,
                "nginx_upstream_statuses": tries,
                "nginx_logged_at": a["logged_at"],
                "client_sent_at": c.get("sent_at"),
                "error_log": ek,
                "server_closed_at": srv_close,
                "server_close_call": ("shutdown" if s and s["shutdown_at"] else "close") if s else None,
                "server_fd_closed_at": s["close_at"] if s else None,
                "server_read_raced_request_at": late_reads[0]["t"] if late_reads else None,
                "server_last_response_end": last_response_end(s, srv_close) if s else None,
                "request_after_server_close_ms": round((t - srv_close) * 1000, 3) if srv_close else None,
                "mapping": mapping,
            }
            races.append(race)
            if s:
                race_socks.add(id(s))
        idle = []
        for s in socks:
            close = s["shutdown_at"] or s["close_at"]
            if close is None:
                continue
            if s["eof_at"] is not None and s["eof_at"] <= close:
                continue  # the proxy closed first
            start = last_response_end(s, close) or s["open_at"]
            idle.append({"proxy_port": int(s["remote"].split(":")[1]), "backend": s["local"],
                         "last_response_end": start, "closed_at": close,
                         "idle_ms": round((close - start) * 1000, 3),
                         "close_call": "shutdown(SHUT_WR)" if s["shutdown_at"] else "close",
                         "fd_closed_at": s["close_at"], "requests": len(s["requests"])})
        hdr = next((server_header(w["data"]) for s in socks for w in s["writes"] if server_header(w["data"])), None)
        detail = [{"proxy_port": int(s["remote"].split(":")[1]), "backend": s["local"], "open_at": s["open_at"],
                   "requests": len(s["requests"]), "last_response_end": last_response_end(s),
                   "shutdown_at": s["shutdown_at"], "closed_at": s["close_at"], "peer_eof_at": s["eof_at"],
                   "closed_by": "server" if any(i["proxy_port"] == int(s["remote"].split(":")[1])
                                                and i["backend"] == s["local"] for i in idle) else
                   ("proxy_fin" if s["eof_at"] else "unknown")} for s in socks]
        return races, idle, len(socks), hdr, detail

    # ---- Node socket log helpers ------------------------------------------------------
    def node(self):
        ev = read_jsonl(self.f("node.log"))
        return sorted((e for e in ev if e.get("event") == "socket"), key=lambda e: e["open_at"]), ev

    def node_idle(self, sockets):
        idle = []
        for s in sockets:
            if s["closed_by"] != "server_timeout":
                continue
            start = s["last_response_end"] if s["last_response_end"] is not None else s["open_at"]
            idle.append({"proxy_port": s["remote_port"], "backend": s["local"], "last_response_end": start,
                         "closed_at": s["timeout_at"], "idle_ms": round((s["timeout_at"] - start) * 1000, 3),
                         "close_call": "node socket.destroy() on timeout", "requests": len(s["requests"])})
        return idle

    def node_detail(self, sockets):
        return [{"proxy_port": s["remote_port"], "backend": s["local"], "open_at": s["open_at"],
                 "requests": len(s["requests"]), "last_response_end": s["last_response_end"],
                 "closed_at": s["timeout_at"] if s["closed_by"] == "server_timeout" else (s["end_at"] or s["close_at"]),
                 "closed_by": s["closed_by"]} for s in sockets]

    # ---- caddy ------------------------------------------------------------------------
    def caddy(self):
        sockets, _ = self.node()
        csocks = parse_strace(self.f("caddy-strace.log"), "client")
        csocks = [s for s in csocks if s["remote"].startswith(self.meta["backend_ip"] + ":")]
        by_port = {}
        for s in sockets:
            by_port.setdefault(s["remote_port"], []).append(s)
        written = defaultdict(list)
        for s in csocks:
            for r in s["requests"]:
                written[r["path"]].append((r, s))
        caddy_errors = [e for e in read_jsonl(self.f("caddy.log")) if e.get("level") == "error"]
        access = read_jsonl(self.f("caddy-access.log"))
        races = []
        for path, tries in sorted(written.items(), key=lambda kv: kv[1][0][0]["t"]):
            first_r, first_s = tries[0]
            answered = [x for x in first_s["responses"] if x["t"] >= first_r["t"]]
            if answered:
                continue
            lane = int(LANE_RE.match(path)["lane"])
            proxy_port = int(first_s["local"].split(":")[1])
            nsock = next((s for s in by_port.get(proxy_port, [])
                          if s["local"] == first_s["remote"]), None)
            closed_at = nsock["timeout_at"] if nsock else None
            c = self.client_by_path.get(path, {})
            errs = [e for e in caddy_errors if (e.get("request") or {}).get("uri") == path]
            if len(tries) > 1:
                retried = True
            elif errs or c.get("status") == 502:
                retried = False
            else:
                retried = None
            races.append({
                "proxy_port": proxy_port, "backend": first_s["remote"], "method": first_r["method"],
                "path": path, "request_time": first_r["t"],
                "kind": self.kind_by_time(first_r["t"], closed_at),
                "retried": retried, "client_status": c.get("status"), "client_error": c.get("error"),
                "lane": lane,
                "proxy_saw": ("EOF" if first_s["eof_at"] else
                              ("ECONNRESET" if first_s["read_error"] else None)),
                "proxy_saw_at": first_s["eof_at"] or (first_s["read_error"] or {}).get("t"),
                "retry_proxy_port": int(tries[1][1]["local"].split(":")[1]) if len(tries) > 1 else None,
                "retry_request_time": tries[1][0]["t"] if len(tries) > 1 else None,
                "caddy_error_log": " ".join(str(errs[0][k]) for k in ("level", "msg", "status", "error")
                                            if errs[0].get(k) is not None) if errs else None,
                "caddy_access_status": next((a.get("status") for a in access
                                             if (a.get("request") or {}).get("uri") == path), None),
                "client_sent_at": c.get("sent_at"),
                "server_closed_at": closed_at,
                "server_last_response_end": nsock["last_response_end"] if nsock else None,
                "request_after_server_close_ms": round((first_r["t"] - closed_at) * 1000, 3) if closed_at else None,
                "node_logged_raced_request": bool(nsock and any(r["path"] == path for r in nsock["requests"])),
                "mapping": "caddy-strace-write",
            })
        hdr = None
        for a in access:
            v = (a.get("resp_headers") or {}).get("Server")
            if v:
                hdr = v[0]
                break
        self.proxy_server_header = hdr  # what Caddy adds toward the client; Node sends none
        return races, self.node_idle(sockets), len(sockets), None, self.node_detail(sockets)

    # ---- client-lib --------------------------------------------------------------------
    def client_lib(self):
        sockets, _ = self.node()
        by_port = {}
        for s in sockets:
            by_port.setdefault(s["remote_port"], []).append(s)
        races = []
        for c in self.client:
            if not (c.get("error") and c.get("reused")):
                if c.get("error"):
                    self.notes.append(f'{c["path"]}: error on a new connection: {c["error"]}')
                continue
            ns = [s for s in by_port.get(c["local_port"], []) if s["open_at"] <= c["sent_at"]]
            s = ns[-1] if ns else None
            closed_at = s["timeout_at"] if s else None
            races.append({
                "proxy_port": c["local_port"], "backend": self.backend_of_lane(c["lane"]),
                "method": c["method"], "path": c["path"], "request_time": c["sent_at"],
                "kind": self.kind_by_time(c["sent_at"], closed_at),
                "retried": False, "client_status": c["status"], "client_error": c["error"],
                "lane": c["lane"], "gap_ms": c["gap_ms"], "uses_before": c["uses_before"],
                "server_closed_at": closed_at,
                "server_closed_by": s["closed_by"] if s else None,
                "server_last_response_end": s["last_response_end"] if s else None,
                "request_after_server_close_ms": round((c["sent_at"] - closed_at) * 1000, 3) if closed_at else None,
                "mapping": "client-local-port",
            })
        return races, self.node_idle(sockets), len(sockets), None, self.node_detail(sockets)

    # ---- faults ------------------------------------------------------------------------
    def faults(self):
        sockets, ev = self.node()
        fault_ev = [e for e in ev if e.get("event") == "fault"]
        acc_by_path = {a["path"]: a for a in self.access}
        faults = []
        for fe in fault_ev:
            a = acc_by_path.get(fe["path"], {})
            c = self.client_by_path.get(fe["path"], {})
            errs = self.error_for(fe["path"])
            f = {"kind": fe["kind"], "proxy_port": fe["remote_port"], "backend": fe["local"],
                 "method": fe["method"], "path": fe["path"],
                 "request": f'{fe["method"]} {fe["path"]} HTTP/1.1',
                 "request_at": fe["request_at"], "fault_at": fe["fault_at"],
                 "request_number_on_socket": fe["request_number_on_socket"],
                 "nginx_status": a.get("status"), "nginx_upstream_statuses": a.get("upstream_statuses"),
                 "nginx_upstream_addrs": a.get("upstream_addrs"),
                 "nginx_logged_at": a.get("logged_at"), "nginx_request_time": a.get("started_at"),
                 "nginx_body_bytes_sent": a.get("body_bytes_sent"),
                 "nginx_upstream_bytes_received": a.get("upstream_bytes_received"),
                 "nginx_access_line": a.get("line"),
                 "nginx_error_lines": [e["line"] for e in errs],
                 "nginx_error_kinds": [error_kind(e["msg"]) for e in errs],
                 "retried": len(a.get("upstream_statuses") or []) > 1,
                 "client_status": c.get("status"), "client_error": c.get("error")}
            for k in ("expected_bytes", "sent_bytes", "header_at", "body_written_at", "delay_ms",
                      "socket_destroyed_before_response", "peer_fin_at"):
                if k in fe:
                    f[k] = fe[k]
            faults.append(f)
        # refused: nginx's logs only (no listener, so no backend log)
        refused_addr = f'{self.meta["backend_ip"]}:{self.meta["refused_port"]}'
        for a in self.access:
            if refused_addr in a["upstream_addrs"]:
                errs = self.error_for(a["path"])
                c = self.client_by_path.get(a["path"], {})
                faults.append({"kind": "refused", "proxy_port": None, "backend": refused_addr,
                               "method": a["method"], "path": a["path"],
                               "request": f'{a["method"]} {a["path"]} HTTP/1.1',
                               "request_at": a["started_at"], "fault_at": None,
                               "nginx_status": a["status"], "nginx_upstream_statuses": a["upstream_statuses"],
                               "nginx_upstream_addrs": a["upstream_addrs"],
                               "nginx_logged_at": a["logged_at"], "nginx_request_time": a["started_at"],
                               "nginx_access_line": a["line"],
                               "nginx_error_lines": [e["line"] for e in errs],
                               "nginx_error_kinds": [error_kind(e["msg"]) for e in errs],
                               "retried": len(a["upstream_statuses"]) > 1,
                               "client_status": c.get("status"), "client_error": c.get("error"),
                               "proxy_port_note": "the proxy's source port is in no log"})
        faults.sort(key=lambda f: f["request_at"])
        fault_paths = {f["path"] for f in faults}
        # genuine keep-alive races among the normal requests (as truth.py)
        served = defaultdict(list)
        for s in sockets:
            for r in s["requests"]:
                served[r["path"]].append(s)
        races = []
        for a in self.access:
            if a["path"] in fault_paths:
                continue
            if not (any(x in ("502", "504") for x in a["upstream_statuses"]) or self.error_for(a["path"])):
                continue
            m = LANE_RE.match(a["path"])
            lane, seq = int(m["lane"]), int(m["seq"])
            prev = None
            for sp in range(seq - 1, -1, -1):
                ok = [s for s in served.get(f"/lane{lane}/{sp}", [])
                      if any(r["path"] == f"/lane{lane}/{sp}" and r["end"] for r in s["requests"])]
                if ok:
                    prev = ok[-1]
                    break
            if prev is None or prev["closed_by"] != "server_timeout":
                self.notes.append(f'{a["path"]}: 502/504 try on a normal request, pooled socket unclear')
            errs = self.error_for(a["path"])
            c = self.client_by_path.get(a["path"], {})
            closed_at = prev["timeout_at"] if prev else None
            races.append({"proxy_port": prev["remote_port"] if prev else None,
                          "backend": self.backend_of_lane(lane), "method": a["method"], "path": a["path"],
                          "request_time": a["started_at"],
                          "kind": "reset" if errs and error_kind(errs[0]["msg"]) == "reset"
                          else self.kind_by_time(a["started_at"], closed_at),
                          "retried": len(a["upstream_statuses"]) > 1, "client_status": c.get("status", a["status"]),
                          "lane": lane, "nginx_upstream_statuses": a["upstream_statuses"],
                          "error_log": error_kind(errs[0]["msg"]) if errs else None,
                          "server_closed_at": closed_at,
                          "server_last_response_end": prev["last_response_end"] if prev else None,
                          "request_after_server_close_ms": round((a["started_at"] - closed_at) * 1000, 3)
                          if closed_at else None,
                          "mapping": "previous-request-socket", "label": "genuine keep-alive race"})
        self.fault_list = faults
        return races, self.node_idle(sockets), len(sockets), None, self.node_detail(sockets)

    def build(self):
        self.fault_list = None
        if self.name in ("apache", "gunicorn", "uvicorn"):
            races, idle, nconn, hdr, detail = self.nginx_strace()
        elif self.name == "caddy":
            races, idle, nconn, hdr, detail = self.caddy()
        elif self.name == "client-lib":
            races, idle, nconn, hdr, detail = self.client_lib()
        elif self.name == "faults":
            races, idle, nconn, hdr, detail = self.faults()
        else:
            raise SystemExit(f"unknown scenario {self.name}")
        statuses = defaultdict(int)
        for c in self.client:
            statuses[str(c.get("status"))] += 1
        by_kind = defaultdict(int)
        for r in races:
            by_kind[str(r["kind"])] += 1
        backends = sorted({x["backend"] for x in detail})
        truth = {
            "scenario": self.name,
            "backend": backends if len(backends) != 1 else backends[0],
            "proxy_ip": self.meta["proxy_ip"],
            "keep_alive_timeout_ms": self.meta["keep_alive_timeout_ms"],
            "software": self.meta["software"],
            "proxy": self.meta["proxy"],
            "server_header": hdr,
            "connections": nconn,
            "races": races,
            "server_idle_closes": idle,
            "summary": {
                "requests": len(self.client),
                "client_statuses": dict(statuses),
                "races": len(races),
                "races_by_kind": dict(by_kind),
                "retried": sum(1 for r in races if r["retried"] is True),
                "not_retried": sum(1 for r in races if r["retried"] is False),
                "retried_unknown": sum(1 for r in races if r["retried"] is None),
                "error_log_lines": len(self.errors),
                "server_idle_ms": idle_stats([x["idle_ms"] for x in idle]),
                "notes": self.notes,
            },
            "client_statuses": dict(statuses),
            "connections_detail": detail,
            "lab": {k: self.meta[k] for k in ("delay_ms_each_way", "measured_rtt_ms", "lanes", "client_ip",
                                              "nginx_ip", "node", "started_at", "finished_at") if k in self.meta},
            "source": "derived by scripts/lab/truth_shapes.py from server, proxy and client logs and "
                      "syscall logs only (no packet tool)",
        }
        if getattr(self, "proxy_server_header", None):
            truth["proxy_server_header"] = self.proxy_server_header
        if self.fault_list is not None:
            truth["faults"] = self.fault_list
            fk = defaultdict(int)
            for f in self.fault_list:
                fk[f["kind"]] += 1
            truth["summary"]["faults_by_kind"] = dict(fk)
        return truth


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--meta", required=True)
    ap.add_argument("--dir", required=True, help="directory holding NAME.* logs")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    meta = json.load(open(args.meta))
    truth = Truth(meta, args.dir).build()
    with open(args.out, "w") as f:
        json.dump(truth, f, indent=1)
        f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
