// A Node.js `https` backend for the TLS lab (record-tls.sh): answers every
// request with a small body and logs each socket's open, requests,
// responses and close with its remote port (the ground truth; Node closes
// an idle TLS socket with a plain FIN, no close_notify).
//   node tls-backend.js --host IP --port N --key K --cert C --tls 1.2|1.3
//        --keep-alive-ms MS --log FILE --max-seconds S
'use strict';
const https = require('https');
const fs = require('fs');
const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
const out = fs.openSync(args.log, 'w');
const now = () => (Number(process.hrtime.bigint() - t0) / 1e9 + e0).toFixed(6);
const t0 = process.hrtime.bigint();
const e0 = Date.now() / 1000;
const log = (...f) => fs.writeSync(out, [now(), ...f].join(' ') + '\n');
const v = args.tls === '1.3' ? 'TLSv1.3' : 'TLSv1.2';
const server = https.createServer({
  key: fs.readFileSync(args.key), cert: fs.readFileSync(args.cert), minVersion: v, maxVersion: v,
}, (req, res) => {
  const port = req.socket.remotePort;
  log('request', port, req.method, req.url);
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.end('ok from node https\n', () => log('response', port));
  });
});
server.keepAliveTimeout = Number(args['keep-alive-ms']);
server.on('secureConnection', (s) => {
  const port = s.remotePort;
  log('open', port, s.getProtocol());
  s.on('close', () => log('close', port));
});
server.listen(Number(args.port), args.host, () => log('listening', args.port));
setTimeout(() => process.exit(0), Number(args['max-seconds']) * 1000).unref();
process.on('SIGTERM', () => process.exit(0));
