#!/usr/bin/env bash
# Record real HTTP keep-alive races between nginx and a Node.js backend, with
# ground truth from the servers' own logs. See scripts/lab/README.md.
#
#   sudo scripts/lab/record.sh [get-races] [post-races] [control]
#
# Topology (network namespaces created and deleted by this script):
#
#   rc-client ──veth── rc-proxy (nginx) ──veth── rc-delay (relay.py) ──veth── rc-backend (node)
#   10.231.1.1        10.231.1.2 | 10.231.2.1      +DELAY_MS each way           10.231.2.2
#
# Writes fixtures/lab/NAME.{backend.pcap,proxy-any.pcap,truth.json,node.log,
# nginx-access.log,nginx-error.log,client.log} for each scenario NAME.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
OUT_DIR=${OUT_DIR:-$REPO/fixtures/lab}

DELAY_MS=${DELAY_MS:-20}          # one-way delay of the relay between proxy and backend
LANES=${LANES:-4}                 # client lanes = nginx ports = upstream pools = backend ports
SWEEP_BASE_MS=${SWEEP_BASE_MS:-3000}   # centre of the idle-gap sweep (Node 20 real close for 2000 ms)
SWEEP_FROM=${SWEEP_FROM:--100}
SWEEP_TO=${SWEEP_TO:-60}
SWEEP_STEP=${SWEEP_STEP:-5}
SHORT_GAP_MS=${SHORT_GAP_MS:-300}
CLIENT_MAX_S=${CLIENT_MAX_S:-150} # hard bound on the client driver
NGINX_LISTEN_BASE=9000            # lane L: nginx listens on 9000+L
BACKEND_PORT_BASE=8080            # lane L: backend port 8080+L

NS_C=rc-client NS_P=rc-proxy NS_D=rc-delay NS_B=rc-backend
IP_C=10.231.1.1 IP_PC=10.231.1.2 IP_PB=10.231.2.1 IP_B=10.231.2.2

# shellcheck source=scripts/lab/lib.sh
. "$HERE/lib.sh"

[ "$(id -u)" = 0 ] || die "needs root (network namespaces, raw sockets, tcpdump)"
for tool in ip ss ethtool nginx tcpdump node python3 timeout; do
  command -v "$tool" >/dev/null || die "missing tool: $tool (see scripts/lab/README.md)"
done

scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || scenarios=(get-races post-races control)
for s in "${scenarios[@]}"; do
  case $s in get-races|post-races|control) ;; *) die "unknown scenario: $s" ;; esac
done

PIDS=()
WORK=$(mktemp -d -t racecap-lab.XXXXXX)

lab_traps

nginx_conf() { # nginx_conf DIR
  local dir=$1 lane
  mkdir -p "$dir/tmp"
  {
    echo "user root;"
    echo "worker_processes 1;"
    echo "daemon off;"
    echo "master_process on;"
    echo "pid $dir/nginx.pid;"
    echo "error_log $dir/nginx-error.log error;"
    echo "events { worker_connections 512; }"
    echo "http {"
    echo "  log_format race '\$msec \"\$request\" \$status \"\$upstream_addr\" \"\$upstream_status\" \"\$upstream_connect_time\" \"\$upstream_response_time\" \$request_time \$remote_port';"
    echo "  access_log $dir/nginx-access.log race;"
    echo "  client_body_temp_path $dir/tmp/body; proxy_temp_path $dir/tmp/proxy;"
    echo "  fastcgi_temp_path $dir/tmp/fcgi; uwsgi_temp_path $dir/tmp/uwsgi; scgi_temp_path $dir/tmp/scgi;"
    echo "  keepalive_timeout 10s;"
    for ((lane = 1; lane <= LANES; lane++)); do
      echo "  upstream lane$lane { server $IP_B:$((BACKEND_PORT_BASE + lane)); keepalive 1; }"
      echo "  server {"
      echo "    listen $IP_PC:$((NGINX_LISTEN_BASE + lane));"
      echo "    location / {"
      echo "      proxy_pass http://lane$lane;"
      echo "      proxy_http_version 1.1;"
      echo "      proxy_set_header Connection \"\";"
      echo "    }"
      echo "  }"
    done
    echo "}"
  } >"$dir/nginx.conf"
}

run_scenario() {
  local name=$1 ka method
  case $name in
    get-races)  ka=2000;  method=GET ;;
    post-races) ka=2000;  method=POST ;;
    control)    ka=30000; method=GET ;;
  esac
  local dir="$WORK/$name"
  mkdir -p "$dir"
  log "scenario $name: keepAliveTimeout=${ka}ms method=$method delay=${DELAY_MS}ms lanes=$LANES"
  topology

  # relay between proxy and backend
  ip netns exec $NS_D python3 -u "$HERE/relay.py" rc-d0 rc-d1 --delay-ms "$DELAY_MS" --max-seconds 600 \
    >"$dir/relay.out" 2>&1 &
  PIDS+=($!)
  wait_until 5 "relay" grep -q started "$dir/relay.out"

  # RTT through the relay, before anything listens: a refused connect takes one RTT
  local rtt_ms
  rtt_ms=$(ip netns exec $NS_P timeout 10 python3 -c '
import socket, sys, time
best = None
for _ in range(5):
    s = socket.socket(); s.settimeout(2); t = time.perf_counter()
    try: s.connect((sys.argv[1], 7))
    except OSError: pass
    d = (time.perf_counter() - t) * 1000; s.close()
    best = d if best is None else min(best, d)
print(round(best, 2))' $IP_B)
  log "proxy -> backend RTT through relay: ${rtt_ms} ms"

  local ports="" lane
  for ((lane = 1; lane <= LANES; lane++)); do ports+="${ports:+,}$((BACKEND_PORT_BASE + lane))"; done

  # captures first, so that every connection is seen from its SYN
  ip netns exec $NS_B tcpdump -i rc-b0 --immediate-mode -n -U -Z root -w "$dir/backend.pcap" >"$dir/tcpdump-backend.out" 2>&1 &
  PIDS+=($!)
  local td_b=$!
  ip netns exec $NS_P tcpdump -i any -y LINUX_SLL2 --immediate-mode -n -U -Z root -w "$dir/proxy-any.pcap" >"$dir/tcpdump-proxy.out" 2>&1 &
  PIDS+=($!)
  local td_p=$!
  wait_until 10 "tcpdump (backend)" grep -q "listening on" "$dir/tcpdump-backend.out"
  wait_until 10 "tcpdump (proxy)" grep -q "listening on" "$dir/tcpdump-proxy.out"

  ip netns exec $NS_B node "$HERE/backend.js" --host $IP_B --ports "$ports" --keep-alive-ms "$ka" \
    --log "$dir/node.log" --max-seconds 600 >"$dir/node.out" 2>&1 &
  PIDS+=($!)
  local node_pid=$!
  wait_until 10 "node" listening $NS_B $((BACKEND_PORT_BASE + LANES))

  nginx_conf "$dir"
  ip netns exec $NS_P nginx -e "$dir/nginx-error.log" -c "$dir/nginx.conf" >"$dir/nginx.out" 2>&1 &
  PIDS+=($!)
  local nginx_pid=$!
  wait_until 10 "nginx" listening $NS_P $((NGINX_LISTEN_BASE + LANES))

  local started_at
  started_at=$(date +%s.%N)
  log "client driver running (bounded to ${CLIENT_MAX_S}s)"
  # in the background + wait, so that a signal to this script interrupts at once
  timeout $((CLIENT_MAX_S + 30)) ip netns exec $NS_C python3 -u "$HERE/client.py" --host $IP_PC \
    --base-port $NGINX_LISTEN_BASE --lanes "$LANES" --method "$method" --base-ms "$SWEEP_BASE_MS" \
    --sweep-from "$SWEEP_FROM" --sweep-to "$SWEEP_TO" --sweep-step "$SWEEP_STEP" \
    --short-gap-ms "$SHORT_GAP_MS" --max-seconds "$CLIENT_MAX_S" --log "$dir/client.log" \
    >"$dir/client.out" 2>&1 &
  PIDS+=($!)
  local client_rc=0
  wait $! || client_rc=$?
  [ "$client_rc" = 0 ] || log "client driver exited with $client_rc"
  cat "$dir/client.out" >&2

  # let idle upstream connections close the way the backend closes them
  if [ "$ka" -le 10000 ]; then
    sleep "$(awk -v k="$ka" 'BEGIN { printf "%.2f", (k + 1500) / 1000 }')"
  fi
  # graceful nginx stop closes its remaining idle upstream connections (client FIN)
  stop_pid "$nginx_pid" QUIT 10
  sleep 1.5 # the backend's answers to nginx's last FINs cross the relay
  stop_pid "$td_b" INT 5
  stop_pid "$td_p" INT 5
  stop_pid "$node_pid" TERM 5
  grep -h "dropped by kernel" "$dir"/tcpdump-*.out | grep -v "^0 " | sed 's/^/tcpdump: /' >&2 || true
  teardown
  local finished_at
  finished_at=$(date +%s.%N)

  local nginx_v node_v
  nginx_v=$(nginx -v 2>&1 | sed 's/^nginx version: //')
  node_v=$(node --version)
  python3 - "$dir/meta.json" <<EOF
import json, sys
json.dump({
  "scenario": "$name", "method": "$method", "keep_alive_timeout_ms": $ka,
  "delay_ms_each_way": $DELAY_MS, "measured_rtt_ms": $rtt_ms, "lanes": $LANES,
  "sweep": {"base_ms": $SWEEP_BASE_MS, "from": $SWEEP_FROM, "to": $SWEEP_TO, "step": $SWEEP_STEP,
            "short_gap_ms": $SHORT_GAP_MS},
  "proxy_ip": "$IP_PB", "backend_ip": "$IP_B", "client_ip": "$IP_C", "nginx_ip": "$IP_PC",
  "nginx_listen_base": $NGINX_LISTEN_BASE, "backend_port_base": $BACKEND_PORT_BASE,
  "nginx": "$nginx_v", "node": "$node_v",
  "started_at": $started_at, "finished_at": $finished_at,
}, open(sys.argv[1], "w"), indent=1)
EOF

  mkdir -p "$OUT_DIR"
  cp "$dir/backend.pcap" "$OUT_DIR/$name.backend.pcap"
  cp "$dir/proxy-any.pcap" "$OUT_DIR/$name.proxy-any.pcap"
  cp "$dir/node.log" "$OUT_DIR/$name.node.log"
  cp "$dir/nginx-access.log" "$OUT_DIR/$name.nginx-access.log"
  cp "$dir/nginx-error.log" "$OUT_DIR/$name.nginx-error.log"
  cp "$dir/client.log" "$OUT_DIR/$name.client.log"
  python3 "$HERE/truth.py" --meta "$dir/meta.json" --node "$OUT_DIR/$name.node.log" \
    --access "$OUT_DIR/$name.nginx-access.log" --error "$OUT_DIR/$name.nginx-error.log" \
    --client "$OUT_DIR/$name.client.log" --out "$OUT_DIR/$name.truth.json"
  log "relay: $(tail -n 1 "$dir/relay.out")"
  local f size
  for f in "$OUT_DIR/$name".*.pcap; do
    size=$(stat -c %s "$f")
    [ "$size" -le 307200 ] || log "warning: $f is $size bytes (> 300 KB)"
  done
  log "scenario $name done: $(python3 -c 'import json,sys; t=json.load(open(sys.argv[1])); print("connections=%d races=%d retried=%d statuses=%s" % (t["connections"], len(t["races"]), sum(r["retried"] for r in t["races"]), t["client_statuses"]))' "$OUT_DIR/$name.truth.json")"
}

for s in "${scenarios[@]}"; do
  run_scenario "$s"
done
log "fixtures written to ${OUT_DIR#"$REPO"/}"
