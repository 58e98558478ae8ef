# Shared machinery of the racecap lab scripts (record.sh, record-shapes.sh,
# record-tls.sh, record-h2.sh, record-h2-proxy-legs.sh): logging, process stop by PID, teardown of
# the namespaces, waiting, the four-namespace topology (client, proxy,
# delay, backend) and the three-namespace one (proxy, delay, backend).
# Sourced, not run. The caller defines NS_P NS_D NS_B (and NS_C for four
# namespaces), IP_*, PIDS=() and WORK before calling lab_traps, and may set
# LAB_NAME, the name its log lines start with (default: record).
# shellcheck shell=bash

log() { printf '[%s %(%H:%M:%S)T] %s\n' "${LAB_NAME:-record}" -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }

stop_pid() { # stop_pid PID SIGNAL SECONDS: signal, wait up to SECONDS, then SIGKILL; reap
  local pid=$1 sig=$2 secs=$3 i
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
  kill "-$sig" "$pid" 2>/dev/null || true
  for ((i = 0; i < secs * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "pid $pid ignored SIG$sig, killing"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

teardown() {
  local i
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    stop_pid "${PIDS[$i]}" TERM 3
  done
  PIDS=()
  for ns in ${NS_C:-} $NS_P $NS_D $NS_B; do
    ip netns del "$ns" 2>/dev/null || true
  done
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  teardown
  rm -rf "$WORK"
  exit "$rc"
}

wait_until() { # wait_until SECONDS DESCRIPTION COMMAND...
  local secs=$1 what=$2 i
  shift 2
  for ((i = 0; i < secs * 20; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.05
  done
  die "timed out waiting for $what"
}

listening() { # listening NS PORT
  [ -n "$(ip netns exec "$1" ss -Hltn "sport = :$2")" ]
}

topology() {
  teardown
  for ns in $NS_C $NS_P $NS_D $NS_B; do
    ip netns add "$ns"
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    ip -n "$ns" link set lo up
  done
  ip link add rc-c0 netns $NS_C type veth peer name rc-p0 netns $NS_P
  ip link add rc-p1 netns $NS_P type veth peer name rc-d0 netns $NS_D
  ip link add rc-d1 netns $NS_D type veth peer name rc-b0 netns $NS_B
  # full-size, fully checksummed frames: the relay copies frames as they are
  local ns ifc
  for pair in $NS_C:rc-c0 $NS_P:rc-p0 $NS_P:rc-p1 $NS_D:rc-d0 $NS_D:rc-d1 $NS_B:rc-b0; do
    ns=${pair%%:*} ifc=${pair#*:}
    ip netns exec "$ns" ethtool -K "$ifc" tx off rx off tso off gso off gro off >/dev/null 2>&1 || true
    ip -n "$ns" link set "$ifc" up
  done
  ip -n $NS_D link set rc-d0 promisc on
  ip -n $NS_D link set rc-d1 promisc on
  ip -n $NS_C addr add $IP_C/24 dev rc-c0
  ip -n $NS_P addr add $IP_PC/24 dev rc-p0
  ip -n $NS_P addr add $IP_PB/24 dev rc-p1
  ip -n $NS_B addr add $IP_B/24 dev rc-b0
  # static neighbours: no ARP in the captures
  local mac_c mac_p0 mac_p1 mac_b
  mac_c=$(ip -n $NS_C -br link show rc-c0 | awk '{print $3}')
  mac_p0=$(ip -n $NS_P -br link show rc-p0 | awk '{print $3}')
  mac_p1=$(ip -n $NS_P -br link show rc-p1 | awk '{print $3}')
  mac_b=$(ip -n $NS_B -br link show rc-b0 | awk '{print $3}')
  ip -n $NS_C neigh replace $IP_PC lladdr "$mac_p0" dev rc-c0 nud permanent
  ip -n $NS_P neigh replace $IP_C lladdr "$mac_c" dev rc-p0 nud permanent
  ip -n $NS_P neigh replace $IP_B lladdr "$mac_b" dev rc-p1 nud permanent
  ip -n $NS_B neigh replace $IP_PB lladdr "$mac_p1" dev rc-b0 nud permanent
}

topology3() { # topology3 PREFIX: NS_P ──PREFIX-p1/PREFIX-d0── NS_D ──PREFIX-d1/PREFIX-b0── NS_B, IP_P and IP_B
  local x=$1
  teardown
  for ns in $NS_P $NS_D $NS_B; do
    ip netns add "$ns"
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    ip -n "$ns" link set lo up
  done
  ip link add "$x-p1" netns $NS_P type veth peer name "$x-d0" netns $NS_D
  ip link add "$x-d1" netns $NS_D type veth peer name "$x-b0" netns $NS_B
  # full-size, fully checksummed frames: the relay copies frames as they are
  local pair ns ifc
  for pair in "$NS_P:$x-p1" "$NS_D:$x-d0" "$NS_D:$x-d1" "$NS_B:$x-b0"; do
    ns=${pair%%:*} ifc=${pair#*:}
    ip netns exec "$ns" ethtool -K "$ifc" tx off rx off tso off gso off gro off >/dev/null 2>&1 || true
    ip -n "$ns" link set "$ifc" up
  done
  ip -n $NS_D link set "$x-d0" promisc on
  ip -n $NS_D link set "$x-d1" promisc on
  ip -n $NS_P addr add $IP_P/24 dev "$x-p1"
  ip -n $NS_B addr add $IP_B/24 dev "$x-b0"
  # static neighbours: no ARP in the captures
  local mac_p mac_b
  mac_p=$(ip -n $NS_P -br link show "$x-p1" | awk '{print $3}')
  mac_b=$(ip -n $NS_B -br link show "$x-b0" | awk '{print $3}')
  ip -n $NS_P neigh replace $IP_B lladdr "$mac_b" dev "$x-p1" nud permanent
  ip -n $NS_B neigh replace $IP_P lladdr "$mac_p" dev "$x-b0" nud permanent
}

lab_traps() { # teardown (PIDS, namespaces) and rm WORK on exit, error or signal
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

start_relay() { # start_relay DIR: relay.py in NS_D; sets RTT_MS (proxy ns -> backend ip, one refused connect)
  local dir=$1
  ip netns exec "$NS_D" python3 -u "$HERE/relay.py" rc-d0 rc-d1 --delay-ms "$DELAY_MS" --max-seconds 600 \
    >"$dir/relay.out" 2>&1 &
  PIDS+=($!)
  wait_until 5 "relay" grep -q started "$dir/relay.out"
  RTT_MS=$(ip netns exec "$NS_P" timeout 10 python3 -c '
import socket, sys, time
best = None
for _ in range(5):
    s = socket.socket(); s.settimeout(2); t = time.perf_counter()
    try: s.connect((sys.argv[1], 7))
    except OSError: pass
    d = (time.perf_counter() - t) * 1000; s.close()
    best = d if best is None else min(best, d)
print(round(best, 2))' "$IP_B")
  log "proxy -> backend RTT through relay: ${RTT_MS} ms"
}

start_captures() { # start_captures DIR: tcpdump on rc-b0 (Ethernet) and -i any in NS_P (SLL2); sets TD_B TD_P
  local dir=$1
  ip netns exec "$NS_B" tcpdump -i rc-b0 --immediate-mode -n -U -Z root -w "$dir/backend.pcap" >"$dir/tcpdump-backend.out" 2>&1 &
  PIDS+=($!)
  TD_B=$!
  ip netns exec "$NS_P" tcpdump -i any -y LINUX_SLL2 --immediate-mode -n -U -Z root -w "$dir/proxy-any.pcap" >"$dir/tcpdump-proxy.out" 2>&1 &
  PIDS+=($!)
  TD_P=$!
  wait_until 10 "tcpdump (backend)" grep -q "listening on" "$dir/tcpdump-backend.out"
  wait_until 10 "tcpdump (proxy)" grep -q "listening on" "$dir/tcpdump-proxy.out"
}

relay3() { # relay3 PREFIX DIR: relay.py in NS_D between topology3's PREFIX-d0 and PREFIX-d1
  ip netns exec "$NS_D" python3 -u "$HERE/relay.py" "$1-d0" "$1-d1" --delay-ms "$DELAY_MS" --max-seconds 300 \
    >"$2/relay.out" 2>&1 &
  PIDS+=($!)
  wait_until 5 relay grep -q started "$2/relay.out"
}

capture_any() { # capture_any DIR: tcpdump -i any (Linux cooked SLL2) in NS_P, both legs of the proxy; sets TD_ANY
  ip netns exec "$NS_P" tcpdump -i any -y LINUX_SLL2 -B 16384 --immediate-mode -n -U -Z root -w "$1/proxy-any.pcap" \
    >"$1/tcpdump-any.out" 2>&1 &
  PIDS+=($!)
  TD_ANY=$!
  wait_until 10 tcpdump grep -q "listening on" "$1/tcpdump-any.out"
}

haproxy_run() { # haproxy_run DIR PORT LOG_FORMAT < SECTIONS: HAProxy in NS_P, logging to DIR/haproxy.log; sets PX
  # global and defaults of every lab HAProxy, then the caller's frontend and backend
  {
    printf 'global\n  log stdout format raw local0\n  maxconn 256\ndefaults\n  mode http\n  log global\n'
    printf '  timeout connect 2s\n  timeout client 10s\n  timeout server 10s\n  log-format "%s"\n' "$3"
    cat
  } >"$1/haproxy.cfg"
  ip netns exec "$NS_P" haproxy -db -f "$1/haproxy.cfg" >"$1/haproxy.log" 2>"$1/haproxy.err" &
  PIDS+=($!)
  PX=$!
  wait_until 10 haproxy listening "$NS_P" "$2"
}
