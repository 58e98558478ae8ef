#!/usr/bin/env bash
# Record closes and resets whose cause is not the backend's idle timer
# (issue 21), with ground truth from the programs' own logs:
#
#   sudo scripts/lab/record-causes.sh [restart] [app-reset] [peer-gone] [nat-drop] [nat-rst]
#
#   r21-proxy (nginx + client.py on its loopback) ──veth── r21-delay (relay.py) ──veth── r21-backend (Node)
#   10.221.2.1                                              +DELAY_MS each way          10.221.2.2
#
# restart:   Node (causes-backend.js, keepAliveTimeout 65 s) under load from
#            12 lanes is stopped gracefully (SIGTERM: server.close() +
#            closeIdleConnections()) and started again, RESTARTS times.
# app-reset: Node (keepAliveTimeout 5 s, so its idle close is at 6.0 s)
#            resets a reused connection at a request for ".../reset" after
#            idle gaps of 0.5-3 s (socket.resetAndDestroy()); 4 lanes, GET
#            on 1-2, POST on 3-4.
# peer-gone: nginx holds idle connections to Node (keepAliveTimeout 65 s);
#            the backend's veth, with its address, moves to a new namespace
#            (r21-new: a new host, no socket state) where a new Node listens,
#            then the lanes reuse their idle connections.
# nat-drop, nat-rst: the relay is relay-nat.py, a middlebox with a flow
#            table that forgets a flow idle FLOW_IDLE_MS (4000); Node's
#            timer is 65 s. Forgotten flows' packets are dropped (the
#            request is retransmitted until nginx's proxy_read_timeout, 5 s:
#            504), or answered by the relay's own RST at once (nat-rst).
#
# Captured on the proxy's backend-side veth (r21-p1, Ethernet), i.e. at the
# proxy. nginx: one upstream per lane (keepalive 4), race access-log format.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
OUT_DIR=${OUT_DIR:-$REPO/fixtures/lab}
DELAY_MS=${DELAY_MS:-20}
RESTARTS=${RESTARTS:-3}
FLOW_IDLE_MS=${FLOW_IDLE_MS:-4000}
NS_P=r21-proxy NS_D=r21-delay NS_B=r21-backend NS_C=r21-new
IP_P=10.221.2.1 IP_B=10.221.2.2

LAB_NAME=record-causes
# shellcheck source=scripts/lab/lib.sh
. "$HERE/lib.sh"
[ "$(id -u)" = 0 ] || die "needs root"
for tool in ip ss nginx tcpdump node python3 timeout ethtool; do
  command -v "$tool" >/dev/null || die "missing tool: $tool"
done
scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || scenarios=(restart app-reset peer-gone)

PIDS=()
WORK=$(mktemp -d -t racecap-causes.XXXXXX)
lab_traps

nginx_conf() { # nginx_conf DIR LANES
  local dir=$1 lanes=$2 l
  echo "user root; worker_processes 1; daemon off; master_process on; pid $dir/nginx.pid;"
  echo "error_log $dir/error.log error; events { worker_connections 1024; }"
  echo "http { client_body_temp_path $dir/tmp/b; proxy_temp_path $dir/tmp/p; fastcgi_temp_path $dir/tmp/f;"
  echo "  uwsgi_temp_path $dir/tmp/u; scgi_temp_path $dir/tmp/s;"
  echo "  log_format race '\$msec \"\$request\" \$status \"\$upstream_addr\" \"\$upstream_status\" \"\$upstream_connect_time\" \"\$upstream_response_time\" \$request_time \$remote_port';"
  echo "  access_log $dir/access.log race; keepalive_timeout 0;"
  for ((l = 1; l <= lanes; l++)); do
    echo "  upstream lane$l { server $IP_B:$((8080 + l)); keepalive 4; }"
    echo "  server { listen 127.0.0.1:$((9000 + l)); location / { proxy_pass http://lane$l; proxy_http_version 1.1;"
    echo "    proxy_set_header Connection \"\"; proxy_read_timeout 5s; } }"
  done
  echo "}"
}

start_node() { # start_node NS KEEPALIVE_MS LANES LOG: sets NODE
  local ns=$1 ka=$2 lanes=$3 logf=$4 ports
  ports=$(seq -s, 8081 $((8080 + lanes)))
  ip netns exec "$ns" node "$HERE/causes-backend.js" --host $IP_B --ports "$ports" --keep-alive-ms "$ka" \
    --log "$logf" --max-seconds 300 >>"$logf.out" 2>&1 &
  PIDS+=($!)
  NODE=$!
  wait_until 10 "node in $ns" listening "$ns" 8081
}

move_backend() { # the backend's address moves to a new host: r21-b0 into r21-new
  ip netns add $NS_C
  ip netns exec $NS_C sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  ip -n $NS_C link set lo up
  ip -n $NS_B link set r21-b0 netns $NS_C
  ip netns exec $NS_C ethtool -K r21-b0 tx off rx off tso off gso off gro off >/dev/null 2>&1 || true
  ip -n $NS_C addr add $IP_B/24 dev r21-b0
  ip -n $NS_C link set r21-b0 up
  local mac_p
  mac_p=$(ip -n $NS_P -br link show r21-p1 | awk '{print $3}')
  ip -n $NS_C neigh replace $IP_P lladdr "$mac_p" dev r21-b0 nud permanent
}

run_scenario() {
  local name=$1 lanes ka
  case $name in
    restart) lanes=12 ka=65000 ;;
    app-reset) lanes=4 ka=5000 ;;
    peer-gone | nat-drop | nat-rst) lanes=4 ka=65000 ;;
    *) die "unknown scenario $name" ;;
  esac
  local dir="$WORK/$name"; mkdir -p "$dir/px/tmp"
  log "scenario $name: $lanes lanes, keepAliveTimeout $ka ms, delay ${DELAY_MS} ms"
  topology3 r21
  local relay_py=("$HERE/relay.py")
  case $name in
    nat-drop) relay_py=("$HERE/relay-nat.py" --forget drop --flow-idle-ms "$FLOW_IDLE_MS") ;;
    nat-rst) relay_py=("$HERE/relay-nat.py" --forget rst --flow-idle-ms "$FLOW_IDLE_MS") ;;
  esac
  ip netns exec $NS_D python3 -u "${relay_py[@]:0:1}" r21-d0 r21-d1 "${relay_py[@]:1}" --delay-ms "$DELAY_MS" \
    --max-seconds 300 >"$dir/relay.out" 2>&1 &
  PIDS+=($!)
  local relay=$!
  wait_until 5 relay grep -q started "$dir/relay.out"
  ip netns exec $NS_P tcpdump -i r21-p1 --immediate-mode -n -U -Z root -w "$dir/proxy.pcap" >"$dir/td.out" 2>&1 &
  PIDS+=($!); local td=$!
  wait_until 10 tcpdump grep -q "listening on" "$dir/td.out"
  start_node $NS_B "$ka" "$lanes" "$dir/node.log"
  nginx_conf "$dir/px" "$lanes" >"$dir/px/nginx.conf"
  ip netns exec $NS_P nginx -c "$dir/px/nginx.conf" >"$dir/px.out" 2>&1 &
  PIDS+=($!); local px=$!
  wait_until 10 nginx listening $NS_P 9001
  python3 "$HERE/causes-plan.py" "$name" "$lanes" >"$dir/plan.json"
  local t0; t0=$(date +%s.%N)
  timeout 120 ip netns exec $NS_P python3 -u "$HERE/client.py" --host 127.0.0.1 --base-port 9000 \
    --plan "$dir/plan.json" --lane-stagger-ms 97 --max-seconds 100 --log "$dir/client.log" >"$dir/client.out" 2>&1 &
  PIDS+=($!); local cl=$!
  case $name in
    restart)
      local i
      for ((i = 1; i <= RESTARTS; i++)); do
        sleep 7.3
        log "graceful stop $i"
        local old=$NODE
        # the new process starts at once and binds as soon as the old one
        # has closed its listeners (it retries on EADDRINUSE)
        kill -TERM "$old"
        start_node $NS_B "$ka" "$lanes" "$dir/node.log"
        stop_pid "$old" TERM 5
      done ;;
    peer-gone)
      sleep 6
      log "moving $IP_B to a new host ($NS_C)"
      echo "{\"event\": \"move\", \"at\": $(date +%s.%N)}" >>"$dir/move.log"
      move_backend
      start_node $NS_C "$ka" "$lanes" "$dir/node-new.log" ;;
  esac
  wait "$cl" || log "client exited with $?"
  sleep 1
  stop_pid "$px" QUIT 10
  sleep 0.5
  stop_pid "$td" INT 5
  stop_pid "$relay" TERM 5
  log "relay: $(tail -1 "$dir/relay.out")"
  log "tcpdump: $(grep -h 'dropped' "$dir/td.out" | tr '\n' ' ')"
  teardown

  mkdir -p "$OUT_DIR"
  local out="$OUT_DIR/causes-$name"
  cp "$dir/proxy.pcap" "$out.proxy.pcap"
  cp "$dir/node.log" "$out.node.log"
  [ -f "$dir/node-new.log" ] && cp "$dir/node-new.log" "$out.node-new.log"
  [ -f "$dir/move.log" ] && cp "$dir/move.log" "$out.move.log"
  case $name in nat-*) grep -E '"event": "(forgot|rst)"' "$dir/relay.out" >"$out.relay.log" || true ;; esac
  cp "$dir/px/access.log" "$out.nginx-access.log"
  cp "$dir/px/error.log" "$out.nginx-error.log"
  cp "$dir/client.log" "$out.client.log"
  python3 "$HERE/truth-causes.py" "$name" "$out" >"$out.truth.json"
  log "scenario $name: $(python3 -c 'import json,sys; t=json.load(open(sys.argv[1])); print(t["summary"])' "$out.truth.json")"
}

for s in "${scenarios[@]}"; do run_scenario "$s"; done
