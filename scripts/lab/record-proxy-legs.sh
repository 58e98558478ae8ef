#!/usr/bin/env bash
# Record both legs of a proxy in one capture (issue 21): HAProxy 2.6
# (HTTP/1.1 to the backend, its idle connections pooled) in front of Node's
# http.Server (backend.js, keepAliveTimeout 2000 ms: it closes about 3 s
# after a response), with a keep-alive client (keepalive-client.py) whose
# second request on a connection comes after an idle gap swept across the
# backend's close. When that request's pooled upstream connection races,
# HAProxy closes the client's connection without a response. Captured with
# `tcpdump -i any` in the proxy's namespace: the client leg on its loopback,
# the upstream leg on its veth. Witnesses: the client's log (what each
# request got), HAProxy's log and Node's.
#
#   sudo scripts/lab/record-proxy-legs.sh
#
#   r21p-proxy (HAProxy + client on its loopback) ──veth── r21p-delay (relay.py) ──veth── r21p-backend
#   10.221.4.1                                                 +DELAY_MS each way             10.221.4.2
#
# Captured in the proxy's namespace, every interface (Linux cooked SLL2).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
OUT_DIR=${OUT_DIR:-$REPO/fixtures/lab}
DELAY_MS=${DELAY_MS:-20}
CLIENT_MAX_S=${CLIENT_MAX_S:-90}
KEEP_ALIVE_MS=${KEEP_ALIVE_MS:-2000}
NS_P=r21p-proxy NS_D=r21p-delay NS_B=r21p-backend
IP_P=10.221.4.1 IP_B=10.221.4.2
PROXY_PORT=9222 BACKEND_PORT=8222
NAME=proxy-legs
# The log-format of the recording (also in fixtures/README.md and the test).
LOG_FORMAT='%Ts.%ms %ci:%cp %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %tsc %rc %bi:%bp %si:%sp %{+Q}r'

LAB_NAME=record-proxy-legs
# shellcheck source=scripts/lab/lib.sh
. "$HERE/lib.sh"
[ "$(id -u)" = 0 ] || die "needs root"
for tool in ip ss haproxy tcpdump node python3 timeout; do
  command -v "$tool" >/dev/null || die "missing tool: $tool"
done

PIDS=()
WORK=$(mktemp -d -t racecap-proxy-legs.XXXXXX)
lab_traps

dir="$WORK/$NAME"; mkdir -p "$dir"
log "scenario $NAME: HAProxy HTTP/1.1, Node keepAliveTimeout ${KEEP_ALIVE_MS} ms, delay ${DELAY_MS} ms"
topology3 r21p
ip netns exec $NS_D python3 -u "$HERE/relay.py" r21p-d0 r21p-d1 --delay-ms "$DELAY_MS" --max-seconds 300 \
  >"$dir/relay.out" 2>&1 &
PIDS+=($!)
wait_until 5 relay grep -q started "$dir/relay.out"
ip netns exec $NS_P tcpdump -i any -y LINUX_SLL2 --immediate-mode -n -U -Z root -w "$dir/proxy.pcap" >"$dir/tdb.out" 2>&1 &
PIDS+=($!); tdb=$!
wait_until 10 tcpdump grep -q "listening on" "$dir/tdb.out"

ip netns exec $NS_B node "$HERE/backend.js" --host $IP_B --ports $BACKEND_PORT --keep-alive-ms "$KEEP_ALIVE_MS" \
  --log "$dir/node.log" --max-seconds 300 >"$dir/be.out" 2>&1 &
PIDS+=($!); be=$!
wait_until 10 backend listening $NS_B $BACKEND_PORT

# One pooled connection kept however long it idles; retry-on none, so a
# request lost to the race reaches the client as HAProxy's 502 and its log.
cat >"$dir/haproxy.cfg" <<CFG
global
  log stdout format raw local0
  maxconn 256
defaults
  mode http
  log global
  timeout connect 2s
  timeout client 10s
  timeout server 10s
  log-format "$LOG_FORMAT"
frontend fe
  bind 127.0.0.1:$PROXY_PORT
  default_backend be
backend be
  http-reuse always
  retry-on none
  server node $IP_B:$BACKEND_PORT pool-max-conn 4 pool-purge-delay 60s
CFG
ip netns exec $NS_P haproxy -db -f "$dir/haproxy.cfg" >"$dir/haproxy.log" 2>"$dir/haproxy.err" &
PIDS+=($!); px=$!
wait_until 10 haproxy listening $NS_P $PROXY_PORT

# Gaps around Node's real close (keepAliveTimeout + 1000 ms after the
# response) as the proxy sees it, one round trip earlier.
close_ms=$((KEEP_ALIVE_MS + 1000))
gaps=$(python3 -c "print(','.join(str($close_ms - 2 * $DELAY_MS - 30 + 6 * i) for i in range(16)))")
timeout $((CLIENT_MAX_S + 10)) ip netns exec $NS_P python3 -u "$HERE/keepalive-client.py" --host 127.0.0.1 \
  --port $PROXY_PORT --gaps-ms "$gaps" --max-seconds "$CLIENT_MAX_S" --log "$dir/client.log" >"$dir/client.out" 2>&1 &
PIDS+=($!)
wait $! || log "client exited with $?"
sleep $(( close_ms / 1000 + 2 )) # the last pooled connection closes the backend's way
stop_pid "$px" USR1 10
sleep 1
stop_pid "$tdb" INT 5
stop_pid "$be" TERM 5
teardown

mkdir -p "$OUT_DIR"
cp "$dir/proxy.pcap" "$OUT_DIR/$NAME.proxy-any.pcap"
cp "$dir/haproxy.log" "$OUT_DIR/$NAME.haproxy.log"
cp "$dir/node.log" "$OUT_DIR/$NAME.node.log"
cp "$dir/client.log" "$OUT_DIR/$NAME.client.log"
log "scenario $NAME: client: $(awk '{print $5}' "$OUT_DIR/$NAME.client.log" | sort | uniq -c | tr '\n' ' ')"
