#!/usr/bin/env bash
# Record keep-alive races over HTTP/2 cleartext between HAProxy 2.6 (the
# proxy, `server … proto h2`, its idle connections pooled) and Node's
# `http2` backend closing a session 2 s after the end of its last stream,
# with ground truth from logs, never from a packet tool: HAProxy's log
# (each request's status and the backend connection's source port, %bp)
# and Node's own log (sessions, streams, idle closes).
#
#   sudo scripts/lab/record-h2.sh [haproxy-goaway] [haproxy-graceful] [haproxy-retry] [raw-reuse] [haproxy-tls]
#
# haproxy-tls is haproxy-goaway over TLS 1.3 (ALPN h2): Node's
# `http2.createSecureServer` with a throwaway certificate, HAProxy
# `ssl verify none alpn h2`; the frames are encrypted, the records are not.
# haproxy-retry is haproxy-goaway with `retry-on conn-failure empty-response`:
# does HAProxy re-send a stream lost to the GOAWAY race? raw-reuse has no
# proxy: h2-raw-client.py (in r16h-proxy) reuses each session once after an
# idle gap, whether or not the server's GOAWAY came (a pool that does not
# look), so the gaps beyond the close are stale races.
#
#   r16h-proxy (HAProxy + client on its loopback) ──veth── r16h-delay (relay.py) ──veth── r16h-backend
#   10.216.3.1                                               +DELAY_MS each way             10.216.3.2
#
# Captured at both ends: on the proxy's veth and on the backend's.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
OUT_DIR=${OUT_DIR:-$REPO/fixtures/lab}
DELAY_MS=${DELAY_MS:-20}
CLIENT_MAX_S=${CLIENT_MAX_S:-90}
IDLE_MS=${IDLE_MS:-2000}
NS_P=r16h-proxy NS_D=r16h-delay NS_B=r16h-backend
IP_P=10.216.3.1 IP_B=10.216.3.2
PROXY_PORT=9163 BACKEND_PORT=8463

LAB_NAME=record-h2
# shellcheck source=scripts/lab/lib.sh
. "$HERE/lib.sh"
[ "$(id -u)" = 0 ] || die "needs root"
for tool in ip ss haproxy tcpdump node python3 timeout openssl; do
  command -v "$tool" >/dev/null || die "missing tool: $tool"
done
scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || scenarios=(haproxy-goaway haproxy-graceful haproxy-retry raw-reuse)

PIDS=()
WORK=$(mktemp -d -t racecap-h2.XXXXXX)
lab_traps

run_scenario() {
  local name=$1 mode=${1#haproxy-} retry_on=conn-failure
  if [ "$mode" = retry ]; then mode=goaway retry_on="conn-failure empty-response"; fi
  if [ "$name" = raw-reuse ]; then mode=goaway; fi
  local tls_be=() tls_px=""
  if [ "$mode" = tls ]; then
    mode=goaway
    openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=backend -days 2 \
      -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
    tls_be=(--tls "$WORK/key.pem,$WORK/cert.pem")
    tls_px=" ssl verify none alpn h2"
  fi
  local dir="$WORK/$name"; mkdir -p "$dir"
  log "scenario $name: HAProxy proto h2, Node http2 --close $mode after ${IDLE_MS} ms, delay ${DELAY_MS} ms"
  topology3 r16h
  ip netns exec $NS_D python3 -u "$HERE/relay.py" r16h-d0 r16h-d1 --delay-ms "$DELAY_MS" --max-seconds 300 \
    >"$dir/relay.out" 2>&1 &
  PIDS+=($!)
  wait_until 5 relay grep -q started "$dir/relay.out"
  ip netns exec $NS_B tcpdump -i r16h-b0 --immediate-mode -n -U -Z root -w "$dir/backend.pcap" >"$dir/tdb.out" 2>&1 &
  PIDS+=($!); local tdb=$!
  ip netns exec $NS_P tcpdump -i r16h-p1 --immediate-mode -n -U -Z root -w "$dir/proxy.pcap" >"$dir/tdp.out" 2>&1 &
  PIDS+=($!); local tdp=$!
  wait_until 10 tcpdump grep -q "listening on" "$dir/tdb.out"
  wait_until 10 tcpdump grep -q "listening on" "$dir/tdp.out"

  ip netns exec $NS_B node "$HERE/h2-backend.js" --host $IP_B --port $BACKEND_PORT --idle-ms "$IDLE_MS" \
    --close "$mode" "${tls_be[@]}" --log "$dir/node.log" --max-seconds 300 >"$dir/be.out" 2>&1 &
  PIDS+=($!); local be=$!
  wait_until 10 backend listening $NS_B $BACKEND_PORT

  local px=""
  if [ "$name" = raw-reuse ]; then
    # Rounds: one GET, an idle gap, a GET on the same session; the gaps
    # above the close (2 s after the stream's end) reuse it after the GOAWAY.
    timeout $((CLIENT_MAX_S + 10)) ip netns exec $NS_P /usr/bin/python3 -u "$HERE/h2-raw-client.py" \
      --host $IP_B --port $BACKEND_PORT --gaps-ms 1500,2200,1800,2600,1200,3000,1900,2400,1600,2800 \
      --max-seconds "$CLIENT_MAX_S" --log "$dir/client.log" >"$dir/client.out" 2>&1 &
    PIDS+=($!)
    wait $! || log "client exited with $?"
  else
    # One pooled h2 connection to the backend, kept however long it idles;
    # retry-on only its default (conn-failure) unless the scenario says, so
    # a lost stream reaches the client as HAProxy's error.
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
  log-format "%Ts.%ms %ST %tsc %rc %bi:%bp %{+Q}r %Tq/%Tw/%Tc/%Tr/%Ta"
frontend fe
  bind 127.0.0.1:$PROXY_PORT
  default_backend be
backend be
  http-reuse always
  retry-on $retry_on
  server node $IP_B:$BACKEND_PORT proto h2$tls_px pool-max-conn 4 pool-purge-delay 60s
CFG
    ip netns exec $NS_P haproxy -db -f "$dir/haproxy.cfg" >"$dir/haproxy.log" 2>"$dir/haproxy.err" &
    PIDS+=($!); px=$!
    wait_until 10 haproxy listening $NS_P $PROXY_PORT

    # Gaps around the close as the proxy sees it: the backend closes IDLE_MS
    # after its last stream ended, which the proxy saw DELAY_MS later.
    local gaps
    gaps=$(python3 -c "print(','.join(str($IDLE_MS - 2 * $DELAY_MS - 30 + 6 * i) for i in range(16)))")
    timeout $((CLIENT_MAX_S + 10)) ip netns exec $NS_P python3 -u "$HERE/tls-client.py" --host 127.0.0.1 \
      --port $PROXY_PORT --gaps-ms "$gaps" --max-seconds "$CLIENT_MAX_S" --log "$dir/client.log" >"$dir/client.out" 2>&1 &
    PIDS+=($!)
    wait $! || log "client exited with $?"
  fi
  sleep $(( IDLE_MS / 1000 + 2 )) # the last pooled connection closes the backend's way
  [ -z "$px" ] || stop_pid "$px" USR1 10
  sleep 1
  stop_pid "$tdp" INT 5
  stop_pid "$tdb" INT 5
  stop_pid "$be" TERM 5
  teardown

  mkdir -p "$OUT_DIR"
  cp "$dir/backend.pcap" "$OUT_DIR/h2-$name.backend.pcap"
  cp "$dir/proxy.pcap" "$OUT_DIR/h2-$name.proxy.pcap"
  [ -z "$px" ] || cp "$dir/haproxy.log" "$OUT_DIR/h2-$name.haproxy.log"
  cp "$dir/node.log" "$OUT_DIR/h2-$name.node.log"
  cp "$dir/client.log" "$OUT_DIR/h2-$name.client.log"
  local source=(--haproxy "$OUT_DIR/h2-$name.haproxy.log")
  [ -n "$px" ] || source=(--raw "$OUT_DIR/h2-$name.client.log")
  python3 "$HERE/truth-h2.py" "${source[@]}" --node "$OUT_DIR/h2-$name.node.log" \
    --out "$OUT_DIR/h2-$name.truth.json"
  log "scenario $name: $(python3 -c 'import json,sys; t=json.load(open(sys.argv[1])); print({k: t[k] for k in ("requests", "races", "idle_closes")})' "$OUT_DIR/h2-$name.truth.json")"
}

for s in "${scenarios[@]}"; do run_scenario "$s"; done
