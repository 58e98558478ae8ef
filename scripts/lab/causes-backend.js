#!/usr/bin/env node
// Backend for the causes lab (record-causes.sh): backend.js plus the two
// causes of a close that are not the idle timer.
//   - SIGTERM is a graceful restart's stop: server.close() and
//     closeIdleConnections() on every port (each idle socket gets a FIN at
//     once, at whatever idle age it has), then exit once all are closed.
//     SIGINT stops at once, as backend.js does.
//   - a request whose path contains "/reset" is answered by an RST at once
//     (socket.resetAndDestroy()): the application's reset; one "fault" line.
//
// Usage: node causes-backend.js --host IP --ports 8081,8082 --keep-alive-ms 2000 --log FILE
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
//   "shutdown"       - still open when the backend was told to stop (SIGINT)
//   "restart"        - closed by the graceful stop (SIGTERM); idle_at_stop
//                      says whether it was idle then (closeIdleConnections)
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

const now = () => (performance.timeOrigin + performance.now()) / 1000;
const r6 = (t) => (t == null ? null : Math.round(t * 1e6) / 1e6);
const fd = logPath ? fs.openSync(logPath, 'a') : 1;
const log = (obj) => fs.writeSync(fd, JSON.stringify(obj) + '\n');

const open = new Set();
const resetDone = new Set();
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
    closed_by: st.stop_at != null && closedBy !== 'client_fin' && closedBy !== 'error' ? 'restart' : closedBy,
    stop_at: r6(st.stop_at),
    idle_at_stop: st.idle_at_stop,
    idle_ms_at_stop: st.stop_at != null && st.idle_at_stop && st.last_response_end != null
      ? Math.round((st.stop_at - st.last_response_end) * 1e6) / 1e3 : null,
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
    stop_at: null, idle_at_stop: null, busy: false,
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

function onRequest(req, res) {
  const st = req.socket._rcState;
  const entry = { method: req.method, path: req.url, at: r6(now()), end: null, body_bytes: 0 };
  if (st) { st.requests.push(entry); st.busy = true; }
  if (req.url.includes('/reset') && !resetDone.has(req.url)) {
    resetDone.add(req.url); // once per path: the proxy's retry is answered
    entry.fault = 'app_reset';
    const idle = st && st.last_response_end != null ? Math.round((entry.at - st.last_response_end) * 1e6) / 1e3 : null;
    log({ event: 'fault', kind: 'app_reset', remote_port: st && st.remote_port, local_port: st && st.local_port,
      path: req.url, method: req.method, request_at: entry.at, idle_ms: idle, fault_at: r6(now()) });
    req.socket.resetAndDestroy();
    return;
  }
  req.on('data', (c) => { entry.body_bytes += c.length; });
  req.on('end', () => {
    const body = JSON.stringify({ ok: true, method: req.method, path: req.url, port: st && st.local_port }) + '\n';
    res.setHeader('Content-Type', 'application/json');
    res.setHeader('Content-Length', Buffer.byteLength(body));
    res.on('finish', () => {
      entry.end = r6(now());
      if (st) { st.last_response_end = now(); st.busy = false; }
    });
    res.end(body);
  });
}

const servers = ports.map((port) => {
  const srv = http.createServer({ keepAliveTimeout: keepAliveMs }, onRequest);
  srv.keepAliveTimeout = keepAliveMs;
  srv.on('connection', onConnection);
  srv.on('error', (e) => {
    if (e.code !== 'EADDRINUSE') throw e;
    setTimeout(() => srv.listen(port, host), 2); // the old process is letting go
  });
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
function gracefulStop() {
  const at = now();
  let idle = 0;
  for (const st of open) {
    st.stop_at = at;
    st.idle_at_stop = !st.busy;
    if (!st.busy) idle += 1;
  }
  log({ event: 'stop', at: r6(at), open: open.size, idle });
  let left = servers.length;
  for (const s of servers) {
    // The server's 'close' can come before the last socket's own 'close'
    // listener ran: log what is left on the next turn, then exit.
    s.close(() => {
      left -= 1;
      if (left === 0) {
        setTimeout(() => {
          for (const st of Array.from(open)) finish(st);
          log({ event: 'exit', at: r6(now()) });
          process.exit(0);
        }, 20);
      }
    });
    s.closeIdleConnections();
  }
  setTimeout(shutdown, 3000).unref();
}
process.on('SIGTERM', gracefulStop);
process.on('SIGINT', shutdown);
setTimeout(shutdown, maxSeconds * 1000).unref();
