#!/usr/bin/env bash
# Soak test for live capture: racecap capture on a loaded veth for a while
# (default 600 s), sampling its resident memory, then its final report (drops,
# races). Needs root, node, python3 and a release build with --features live.
#
#   cargo build --release --features live
#   sudo scripts/soak-live.sh [SECONDS] [CONNECTIONS]
#
# Traffic stays inside two network namespaces this script creates and
# removes; the load loop is bounded by time.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-600}
conns=${2:-200}
bin=target/release/racecap
[ -x "$bin" ] || { echo "build first: cargo build --release --features live" >&2; exit 2; }
id=$$
sns="rcsoak-s$id"; cns="rcsoak-c$id"; sv="rcss$id"; cv="rcsc$id"
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  ip netns del "$sns" 2>/dev/null || true
  ip netns del "$cns" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

ip netns add "$sns"; ip netns add "$cns"
ip link add "$sv" type veth peer name "$cv"
ip link set "$sv" netns "$sns"; ip link set "$cv" netns "$cns"
ip -n "$sns" addr add 10.78.0.2/24 dev "$sv"; ip -n "$cns" addr add 10.78.0.1/24 dev "$cv"
for ns in "$sns" "$cns"; do ip -n "$ns" link set lo up; done
ip -n "$sns" link set "$sv" up; ip -n "$cns" link set "$cv" up

cat > "$work/server.js" <<'EOF'
const http = require('http');
const s = http.createServer((req, res) => res.end('x'.repeat(200)));
s.keepAliveTimeout = 1000; // closes ~2 s after the last response
s.listen(3000, '10.78.0.2');
EOF
cat > "$work/load.js" <<'EOF'
// Bounded load: N keep-alive agents, each request after a random idle gap
// around the server's close, until the deadline.
const http = require('http');
const [n, secs] = [Number(process.argv[2]), Number(process.argv[3])];
const deadline = Date.now() + secs * 1000;
let ok = 0, failed = 0;
for (let i = 0; i < n; i++) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const next = () => {
    if (Date.now() > deadline) return;
    const req = http.get({ host: '10.78.0.2', port: 3000, path: `/a/${i}`, agent }, (res) => {
      res.resume();
      res.on('end', () => { ok++; setTimeout(next, 200 + Math.random() * 2600); });
    });
    req.on('error', () => { failed++; setTimeout(next, 100); });
  };
  setTimeout(next, Math.random() * 1000);
}
setTimeout(() => { console.log(JSON.stringify({ ok, failed })); process.exit(0); }, secs * 1000 + 3000);
EOF

ip netns exec "$sns" node "$work/server.js" & pids+=($!)
sleep 0.5
ip netns exec "$sns" "$bin" capture -i "$sv" --duration "${secs}s" --format json \
  -o "$work/report.json" tcp port 3000 2>"$work/capture.err" & cap=$!; pids+=($cap)
sleep 0.5
ip netns exec "$cns" node "$work/load.js" "$conns" "$secs" >"$work/load.out" & pids+=($!)

echo "elapsed_s rss_kb"
start=$(date +%s)
while kill -0 "$cap" 2>/dev/null; do
  rpid=$(pgrep -f "$bin capture -i $sv" | head -1 || true)
  if [ -n "$rpid" ]; then
    echo "$(( $(date +%s) - start )) $(awk '/VmRSS/ {print $2}' /proc/"$rpid"/status 2>/dev/null || echo -)"
  fi
  sleep 30
done
wait "$cap" || true
echo "load: $(cat "$work/load.out")"
tail -3 "$work/capture.err"
python3 - "$work/report.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
c = r["capture"]
print("packets", c["packets"], "connections", c["connections"], "peak open", c["peak_open_connections"],
      "dropped", c.get("dropped"), "interface_dropped", c.get("interface_dropped"))
print("verdicts", {k: v for k, v in r["verdict_counts"].items() if v})
EOF
