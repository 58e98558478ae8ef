#!/usr/bin/env node
// Fault-injecting backend for the racecap lab: backend.js (same socket log,
// same keep-alive behaviour) plus faults chosen by the last path segment:
//
//   /laneL/SEQ/truncated  200 with Content-Length: 2000, only 1000 body bytes,
//                         then a FIN (socket.end()) 100 ms later
//   /laneL/SEQ/reset      the request is read, then an RST at once
//                         (socket.resetAndDestroy()); once per path, so a
//                         proxy's retry of the same request is answered
//   /laneL/SEQ/slow       the response is sent only after --slow-ms (1500)
//   anything else         a normal small JSON response
//
// Usage: node faults.js --host IP --ports 8081,8082 --keep-alive-ms 2000 --log FILE
//
// Each fault also writes one JSON line {event: "fault", kind, local_port,
// remote_port, method, path, request_at, fault_at, ...} when it is injected.
//
// Writes one JSON line per TCP socket when it closes (and one "listen" line at
// start). Times are wall-clock epoch seconds with microsecond digits
// (performance.timeOrigin + performance.now()), comparable with pcap times.
//
// closed_by:
//   "server_timeout" - the socket's idle timer fired and Node destroyed it
//                      (Node 20 arms it at keepAliveTimeout + 1000 ms)
//   "client_fin"     - the peer's FIN arrived first ('end' before any timeout)
//   "error"          - a socket error (e.g. ECONNRESET) came first
//   "shutdown"       - still open when the backend was told to stop
'use strict';
const http = require('http');
const fs = require('fs');
const { performance } = require('perf_hooks');

function arg(name, dflt) {
  const i = process.argv.indexOf('--' + name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
}

const host = arg('host', '127.0.0.1');
const ports = arg('ports', '8081').split(',').map(Number);
const keepAliveMs = Number(arg('keep-alive-ms', '5000'));
const logPath = arg('log', null);
const maxSeconds = Number(arg('max-seconds', '900'));
const slowMs = Number(arg('slow-ms', '1500'));
const truncExpected = 2000, truncSent = 1000, truncFinMs = 100;
const resetDone = new Set();

const now = () => (performance.timeOrigin + performance.now()) / 1000;
const r6 = (t) => (t == null ? null : Math.round(t * 1e6) / 1e6);
const fd = logPath ? fs.openSync(logPath, 'a') : 1;
const log = (obj) => fs.writeSync(fd, JSON.stringify(obj) + '\n');

const open = new Set();
let nextId = 1;

function finish(st, why) {
  if (st.logged) return;
  st.logged = true;
  open.delete(st);
  let closedBy = why;
  if (!closedBy) {
    if (st.timeout_at != null && (st.end_at == null || st.timeout_at <= st.end_at)) closedBy = 'server_timeout';
    else if (st.end_at != null) closedBy = 'client_fin';
    else if (st.error) closedBy = 'error';
    else closedBy = 'unknown';
  }
  log({
    event: 'socket',
    id: st.id,
    local_port: st.local_port,
    local: `${st.local_ip}:${st.local_port}`,
    remote: `${st.remote_ip}:${st.remote_port}`,
    remote_ip: st.remote_ip,
    remote_port: st.remote_port,
    open_at: r6(st.open_at),
    requests: st.requests,
    last_response_end: r6(st.last_response_end),
    timeout_at: r6(st.timeout_at),
    end_at: r6(st.end_at),
    error: st.error,
    close_at: r6(st.close_at != null ? st.close_at : now()),
    closed_by: closedBy,
    idle_ms: st.timeout_at != null && st.last_response_end != null
      ? Math.round((st.timeout_at - st.last_response_end) * 1e6) / 1e3 : null,
  });
}

function onConnection(socket) {
  const st = {
    id: nextId++,
    local_ip: socket.localAddress, local_port: socket.localPort,
    remote_ip: socket.remoteAddress, remote_port: socket.remotePort,
    open_at: now(), requests: [], last_response_end: null,
    timeout_at: null, end_at: null, error: null, close_at: null, logged: false,
  };
  socket._rcState = st;
  open.add(st);
  // An extra 'timeout' listener does not change Node's behaviour: the http
  // server's own listener (socketOnTimeout) still destroys the idle socket.
  // Prepended, so the time is taken just before that destroy (and its FIN).
  socket.prependListener('timeout', () => { if (st.timeout_at == null) st.timeout_at = now(); });
  socket.on('end', () => { if (st.end_at == null) st.end_at = now(); });
  socket.on('error', (e) => { if (!st.error) st.error = { code: e.code || String(e), at: r6(now()) }; });
  socket.on('close', () => { st.close_at = now(); finish(st); });
}

function faultLog(st, entry, kind, extra) {
  log(Object.assign({
    event: 'fault', kind, local_port: st.local_port, remote_port: st.remote_port,
    local: `${st.local_ip}:${st.local_port}`, remote: `${st.remote_ip}:${st.remote_port}`,
    method: entry.method, path: entry.path, request_at: entry.at,
    request_number_on_socket: st.requests.length,
  }, extra));
}

function onRequest(req, res) {
  const st = req.socket._rcState;
  const entry = { method: req.method, path: req.url, at: r6(now()), end: null, body_bytes: 0 };
  if (st) st.requests.push(entry);
  req.on('data', (c) => { entry.body_bytes += c.length; });
  req.on('end', () => {
    const fault = req.url.split('/').pop();
    entry.request_end = r6(now());
    if (fault === 'reset' && !resetDone.has(req.url)) {
      resetDone.add(req.url);
      entry.fault = 'app_reset';
      const at = r6(now());
      req.socket.resetAndDestroy();
      faultLog(st, entry, 'app_reset', { fault_at: at });
      return;
    }
    if (fault === 'truncated') {
      entry.fault = 'truncated';
      res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': truncExpected });
      const headAt = r6(now());
      res.write('x'.repeat(truncSent - 1) + '\n', () => {
        const wroteAt = r6(now());
        setTimeout(() => {
          const finAt = r6(now());
          req.socket.end();
          faultLog(st, entry, 'truncated', { header_at: headAt, body_written_at: wroteAt, fault_at: finAt,
            expected_bytes: truncExpected, sent_bytes: truncSent });
        }, truncFinMs);
      });
      return;
    }
    const body = JSON.stringify({ ok: true, method: req.method, path: req.url, port: st && st.local_port }) + '\n';
    const respond = () => {
      res.setHeader('Content-Type', 'application/json');
      res.setHeader('Content-Length', Buffer.byteLength(body));
      res.on('finish', () => {
        entry.end = r6(now());
        if (st) st.last_response_end = now();
      });
      res.end(body);
    };
    if (fault === 'slow') {
      entry.fault = 'timeout';
      setTimeout(() => {
        const at = r6(now());
        const destroyed = req.socket.destroyed;
        if (!destroyed) respond();
        faultLog(st, entry, 'timeout', { fault_at: at, delay_ms: slowMs, socket_destroyed_before_response: destroyed,
          peer_fin_at: st.end_at != null ? r6(st.end_at) : null });
      }, slowMs);
      return;
    }
    respond();
  });
}

const servers = ports.map((port) => {
  const srv = http.createServer({ keepAliveTimeout: keepAliveMs }, onRequest);
  srv.keepAliveTimeout = keepAliveMs;
  srv.on('connection', onConnection);
  srv.listen(port, host);
  return srv;
});

let listening = 0;
servers.forEach((s) => s.on('listening', () => {
  listening += 1;
  if (listening === servers.length) {
    log({ event: 'listen', at: r6(now()), host, ports, keep_alive_timeout_ms: keepAliveMs,
      node: process.version, pid: process.pid });
  }
}));

function shutdown() {
  for (const st of Array.from(open)) finish(st, 'shutdown');
  log({ event: 'exit', at: r6(now()) });
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
setTimeout(shutdown, maxSeconds * 1000).unref();
