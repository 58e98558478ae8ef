#!/usr/bin/env bash
# Cost of a live capture on a node (docs/performance.md, "Live capture
# across several veths"): a "node" network namespace with N pod veths, a
# Node.js server in each pod, ApacheBench clients on the node sending a
# bounded number of keep-alive requests; racecap captures on every veth
# through one pattern. Prints racecap's CPU time per million packets, its
# peak memory, packets, drops and findings.
#
#   sudo scripts/perf-live.sh [VETHS=4] [REQUESTS_PER_VETH=50000]
#
# Needs root, ip, node, ab (apache2-utils) and GNU time. Everything it
# creates is named r14-pf*, and is removed (processes by PID) on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

veths="${1:-4}"
requests="${2:-50000}"
racecap="${RACECAP:-target/release/racecap}"
limit=300 # seconds: an upper bound on every step
[ -x "$racecap" ] || { echo "perf-live: build first: cargo build --release --features live" >&2; exit 2; }
for t in ip node ab /usr/bin/time; do
  command -v "$t" >/dev/null || { echo "perf-live: $t is missing" >&2; exit 2; }
done

node_ns="r14-pf-node$$"
dir="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  for i in $(seq 1 "$veths"); do ip netns del "r14-pf-p$i-$$" 2>/dev/null || true; done
  ip netns del "$node_ns" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

ip netns add "$node_ns"
ip -n "$node_ns" link set lo up
cat > "$dir/server.js" <<'EOF'
const http = require('http');
const s = http.createServer((req, res) => res.end('ok\n'));
s.listen(3000, process.argv[2], () => console.log('listening'));
EOF
for i in $(seq 1 "$veths"); do
  pod="r14-pf-p$i-$$"
  ip netns add "$pod"
  ip -n "$pod" link set lo up
  ip -n "$node_ns" link add "r14pf$i" type veth peer name eth0 netns "$pod"
  ip -n "$node_ns" addr add "10.82.$i.1/24" dev "r14pf$i"
  ip -n "$pod" addr add "10.82.$i.2/24" dev eth0
  ip -n "$node_ns" link set "r14pf$i" up
  ip -n "$pod" link set eth0 up
  ip netns exec "$pod" timeout "$limit" node "$dir/server.js" "10.82.$i.2" > "$dir/server$i.log" &
  pids+=($!)
done
for i in $(seq 1 "$veths"); do
  for _ in $(seq 1 50); do grep -q listening "$dir/server$i.log" && break; sleep 0.1; done
done

ip netns exec "$node_ns" /usr/bin/time -f '%U %S %M' -o "$dir/time" \
  "$racecap" capture -i 'r14pf*' --duration "${limit}s" --format json -o "$dir/report.json" \
  tcp port 3000 2> "$dir/racecap.err" &
time_pid=$!
pids+=("$time_pid")
sleep 1.5
started=$(date +%s.%N)
load=()
for i in $(seq 1 "$veths"); do
  ip netns exec "$node_ns" timeout "$limit" ab -q -k -n "$requests" -c 4 "http://10.82.$i.2:3000/" > "$dir/ab$i.log" 2>&1 &
  load+=($!)
done
for p in "${load[@]}"; do wait "$p"; done
elapsed=$(echo "$(date +%s.%N) - $started" | bc)
sleep 1
# Stop racecap itself (GNU time does not forward signals), by its PID.
rc_pid="$(cat /proc/"$time_pid"/task/*/children | tr ' ' '\n' | head -1)"
kill -TERM "$rc_pid"
wait "$time_pid" || true

read -r user sys maxrss < "$dir/time"
python3 - "$dir/report.json" "$user" "$sys" "$maxrss" "$veths" "$requests" "$elapsed" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
user, sys_, rss = float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
veths, requests, elapsed = int(sys.argv[5]), int(sys.argv[6]), float(sys.argv[7])
c = r["capture"]
packets = c["packets"]
cpu = user + sys_
print(f"veths={veths} requests={veths*requests} load_s={elapsed:.1f} packets={packets} "
      f"pps={packets/elapsed:.0f} dropped={c.get('dropped')} connections={c['connections']} "
      f"findings={len(r['findings'])}")
print(f"cpu_s={cpu:.2f} (user {user:.2f}, sys {sys_:.2f}) cpu_s_per_million_packets={cpu/packets*1e6:.2f} "
      f"max_rss_mib={rss/1024:.1f}")
EOF
