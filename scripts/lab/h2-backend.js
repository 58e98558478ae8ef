#!/usr/bin/env node
// HTTP/2 cleartext backend for the racecap lab (record-h2.sh): Node's
// `http2` with prior knowledge, closing a session idle for --idle-ms after
// the end of its last stream. It logs, with the peer's port and wall-clock
// times, every session opened, every stream (id, method, path) and its end,
// each idle close (the GOAWAY's last-stream-id) and each session's close:
// the ground truth the lab tests compare racecap with.
//
//   node h2-backend.js --host IP --port N --idle-ms 2000 --close goaway|graceful \
//        --log FILE --max-seconds 300
//
// --close goaway: session.goaway(NO_ERROR, last) then destroy (GOAWAY, FIN).
// --close graceful: session.close() (GOAWAY, then the FIN once no stream is open).
// --tls KEY,CERT: http2.createSecureServer (ALPN h2 only, TLS 1.3) instead.
'use strict';
const http2 = require('http2');
const fs = require('fs');

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].slice(2)] = process.argv[i + 1];
const IDLE_MS = Number(args['idle-ms'] || 2000);
const MODE = args.close || 'goaway';
const out = fs.openSync(args.log, 'w');
const now = () => (Date.now() / 1000).toFixed(6);
const log = (line) => fs.writeSync(out, `${now()} ${line}\n`);

const settings = { maxConcurrentStreams: 100 };
const server = args.tls
  ? http2.createSecureServer({
    key: fs.readFileSync(args.tls.split(',')[0]),
    cert: fs.readFileSync(args.tls.split(',')[1]),
    minVersion: 'TLSv1.3',
    settings,
  })
  : http2.createServer({ settings });
server.on('session', (session) => {
  const port = session.socket.remotePort;
  let open = 0, last = 0, timer = null, closing = false;
  log(`session-open ${port}`);
  const idle = () => {
    if (open > 0 || closing || session.destroyed) return;
    closing = true;
    log(`idle-close ${port} last-stream ${last} mode ${MODE}`);
    if (MODE === 'graceful') {
      session.close();
    } else {
      session.goaway(http2.constants.NGHTTP2_NO_ERROR, last);
      setImmediate(() => session.destroy());
    }
  };
  const arm = () => { clearTimeout(timer); timer = setTimeout(idle, IDLE_MS); };
  session.on('stream', (stream, headers) => {
    open++;
    last = Math.max(last, stream.id);
    clearTimeout(timer);
    log(`stream ${port} ${stream.id} ${headers[':method']} ${headers[':path']}`);
    stream.respond({ ':status': 200, 'content-type': 'text/plain' });
    stream.end('ok from node http2\n');
    stream.on('close', () => {
      open--;
      log(`stream-end ${port} ${stream.id}`);
      if (open === 0) arm();
    });
  });
  session.on('error', (e) => log(`session-error ${port} ${e.code || e.message}`));
  session.on('close', () => { clearTimeout(timer); log(`session-close ${port}`); });
  arm();
});
server.listen(Number(args.port), args.host, () => console.log('listening'));
setTimeout(() => process.exit(0), Number(args['max-seconds'] || 300) * 1000).unref();
process.on('SIGTERM', () => process.exit(0));
