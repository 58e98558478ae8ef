#!/usr/bin/env bash
# Cost of a live capture on a node (docs/performance.md, "Live capture
# across several veths"): a "node" network namespace with N pod veths, a
# Node.js server in each pod, ApacheBench clients on the node sending a
# bounded number of keep-alive requests; racecap captures on every veth
# through one pattern. Prints racecap's CPU time per million packets, its
# peak memory, packets, drops and findings.
#
#   sudo scripts/perf-live.sh [VETHS=4] [REQUESTS_PER_VETH=50000]
#   sudo TOOL=watch scripts/perf-live.sh [VETHS] [REQUESTS_PER_VETH]
#
# KEEPALIVE=1 makes the servers keep ab's HTTP/1.0 connections open (an
# explicit Connection: keep-alive and Content-Length): a few connections
# carry all the requests, as behind a proxy's pool.
#
# TOOL=watch runs `racecap watch --port 3000` on the host instead (build
# with --features ebpf): its own CPU, plus the run time the kernel spent in
# its eBPF programs (kernel.bpf_stats_enabled for the run, bpftool), which
# the traffic's own processes pay.
#
# Needs root, ip, node, ab (apache2-utils) and GNU time (and bpftool for
# watch). Everything it creates is named r14-pf*, and is removed (processes
# by PID) on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

veths="${1:-4}"
requests="${2:-50000}"
racecap="${RACECAP:-target/release/racecap}"
tool="${TOOL:-capture}"
limit=300 # seconds: an upper bound on every step
[ -x "$racecap" ] || { echo "perf-live: build first: cargo build --release --features live (ebpf for watch)" >&2; exit 2; }
tools=(ip node ab /usr/bin/time)
[ "$tool" = watch ] && tools+=(bpftool)
for t in "${tools[@]}"; do
  command -v "$t" >/dev/null || { echo "perf-live: $t is missing" >&2; exit 2; }
done

node_ns="r14-pf-node$$"
dir="$(mktemp -d)"
pids=()
stats_before="$(sysctl -n kernel.bpf_stats_enabled)"
cleanup() {
  sysctl -q -w kernel.bpf_stats_enabled="$stats_before" || true
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
const keep = process.env.KEEPALIVE === '1';
const s = http.createServer((req, res) => {
  if (keep) {
    res.setHeader('Content-Length', '3');
    res.setHeader('Connection', 'keep-alive');
  }
  res.end('ok\n');
});
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

if [ "$tool" = watch ]; then
  sysctl -q -w kernel.bpf_stats_enabled=1
  /usr/bin/time -f '%U %S %M' -o "$dir/time" \
    "$racecap" watch --port 3000 --duration "${limit}s" --format json -o "$dir/report.json" \
    2> "$dir/racecap.err" &
else
  ip netns exec "$node_ns" /usr/bin/time -f '%U %S %M' -o "$dir/time" \
    "$racecap" capture -i 'r14pf*' --duration "${limit}s" --format json -o "$dir/report.json" \
    tcp port 3000 2> "$dir/racecap.err" &
fi
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
bpf_ns=0
if [ "$tool" = watch ]; then
  # The kernel's time in racecap's programs (those its PID holds).
  bpf_ns="$(bpftool prog show --json | python3 -c '
import json, sys
pid = int(sys.argv[1])
all_ = json.load(sys.stdin)
progs = [p for p in all_ if any(q["pid"] == pid for q in p.get("pids", []))]
if not any("pids" in p for p in all_):
    # A bpftool without PIDs: the programs of racecap by name.
    names = {"set_state", "send_reset", "receive_reset", "retransmit", "send_length", "recv_length"}
    progs = [p for p in all_ if p.get("name") in names]
print(sum(p.get("run_time_ns", 0) for p in progs))
' "$rc_pid")"
fi
kill -TERM "$rc_pid"
wait "$time_pid" || true

read -r user sys maxrss < "$dir/time"
python3 - "$dir/report.json" "$user" "$sys" "$maxrss" "$veths" "$requests" "$elapsed" "$tool" "$bpf_ns" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
user, sys_, rss = float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
veths, requests, elapsed = int(sys.argv[5]), int(sys.argv[6]), float(sys.argv[7])
tool, bpf = sys.argv[8], int(sys.argv[9]) / 1e9
c = r["capture"]
packets = c["packets"]
cpu = user + sys_
if tool == "watch":
    # No packet is read: the cost per request, with the kernel's share.
    total = cpu + bpf
    print(f"tool=watch veths={veths} requests={veths*requests} load_s={elapsed:.1f} "
          f"connections={c['connections']} findings={len(r['findings'])}")
    print(f"cpu_s={cpu:.2f} (user {user:.2f}, sys {sys_:.2f}) bpf_s={bpf:.2f} "
          f"cpu_s_per_100k_requests={total/(veths*requests)*1e5:.3f} max_rss_mib={rss/1024:.1f}")
    for w in c.get("warnings", []):
        print(f"warning: {w}")
    sys.exit(0)
print(f"veths={veths} requests={veths*requests} load_s={elapsed:.1f} packets={packets} "
      f"pps={packets/elapsed:.0f} dropped={c.get('dropped')} connections={c['connections']} "
      f"findings={len(r['findings'])}")
print(f"cpu_s={cpu:.2f} (user {user:.2f}, sys {sys_:.2f}) cpu_s_per_million_packets={cpu/packets*1e6:.2f} "
      f"cpu_s_per_100k_requests={cpu/(veths*requests)*1e5:.3f} max_rss_mib={rss/1024:.1f}")
EOF
