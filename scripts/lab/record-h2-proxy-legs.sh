#!/usr/bin/env bash
# Record both legs of an HTTP/2 proxy in one capture (issue 21): HAProxy 2.6
# speaking h2c to its clients (`bind … proto h2`, prior knowledge) and to
# Node's `http2` backend (h2-backend.js, `server … proto h2`, pooled), which
# closes a session 2 s after its last stream ended (GOAWAY, then the FIN).
# The client, h2-raw-client.py on HAProxy's loopback, opens one h2 session
# per round, sends a GET, waits an idle gap swept across the backend's
# close, and sends a second GET on the same client session: HAProxy sends
# it on its pooled backend session, which may race Node's close (the
# stream is never processed). What HAProxy then does to the client (a 502
# on the stream, an RST_STREAM, or closing the client's connection) is in
# the client's log. Witnesses, never a packet tool: the client's log (what
# each stream got), HAProxy's log and Node's (sessions, streams, idle
# closes); truth-h2.py --client derives the truth from them.
#
#   sudo scripts/lab/record-h2-proxy-legs.sh
#
#   r21h2-proxy (HAProxy + client on its loopback) ──veth── r21h2-delay (relay.py) ──veth── r21h2-backend
#   10.221.5.1                                                 +DELAY_MS each way              10.221.5.2
#
# Captured in the proxy's namespace, every interface (Linux cooked SLL2):
# the client leg on lo, the backend leg on the veth.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
OUT_DIR=${OUT_DIR:-$REPO/fixtures/lab}
DELAY_MS=${DELAY_MS:-20}
CLIENT_MAX_S=${CLIENT_MAX_S:-100}
IDLE_MS=${IDLE_MS:-2000}
ROUNDS=${ROUNDS:-30}
NS_P=r21h2-proxy NS_D=r21h2-delay NS_B=r21h2-backend
IP_P=10.221.5.1 IP_B=10.221.5.2
PROXY_PORT=9225 BACKEND_PORT=8225
NAME=h2-proxy-legs
# record-h2.sh's format (truth-h2.py reads it), and the client's address.
LOG_FORMAT='%Ts.%ms %ST %tsc %rc %bi:%bp %{+Q}r %Tq/%Tw/%Tc/%Tr/%Ta %ci:%cp'

LAB_NAME=record-h2-proxy-legs
# shellcheck source=scripts/lab/lib.sh
. "$HERE/lib.sh"
[ "$(id -u)" = 0 ] || die "needs root"
for tool in ip ss haproxy tcpdump node python3 timeout; do
  command -v "$tool" >/dev/null || die "missing tool: $tool"
done
/usr/bin/python3 -c 'import hpack' 2>/dev/null || die "missing python3-hpack"

PIDS=()
WORK=$(mktemp -d -t racecap-h2-proxy-legs.XXXXXX)
lab_traps

dir="$WORK/$NAME"; mkdir -p "$dir"
log "scenario $NAME: HAProxy h2c both legs, Node http2 --close goaway after ${IDLE_MS} ms, delay ${DELAY_MS} ms"
topology3 r21h2
relay3 r21h2 "$dir"
capture_any "$dir"

ip netns exec $NS_B node "$HERE/h2-backend.js" --host $IP_B --port $BACKEND_PORT --idle-ms "$IDLE_MS" \
  --close goaway --log "$dir/node.log" --max-seconds 300 >"$dir/be.out" 2>&1 &
PIDS+=($!); be=$!
wait_until 10 backend listening $NS_B $BACKEND_PORT

# One pooled h2 session to the backend, kept however long it idles;
# retry-on none, so a lost stream is passed on to the client.
haproxy_run "$dir" $PROXY_PORT "$LOG_FORMAT" <<CFG
frontend fe
  bind 127.0.0.1:$PROXY_PORT proto h2
  default_backend be
backend be
  http-reuse always
  retry-on none
  server node $IP_B:$BACKEND_PORT proto h2 pool-max-conn 4 pool-purge-delay 60s
CFG

# Gaps around the close as the client sees it. Node closes IDLE_MS after
# the round's first stream ended; the client sends its second GET 250 ms
# after its gap (h2-raw-client.py reads for 200 ms after a response and
# 50 ms before the reuse), which reaches Node DELAY_MS later. The sweep
# starts 60 ms before the race window and ends well after it.
gaps=$(python3 -c "print(','.join(str($IDLE_MS - 250 - 60 + 6 * i) for i in range($ROUNDS)))")
timeout $((CLIENT_MAX_S + 10)) ip netns exec $NS_P /usr/bin/python3 -u "$HERE/h2-raw-client.py" \
  --host 127.0.0.1 --port $PROXY_PORT --gaps-ms "$gaps" --max-seconds "$CLIENT_MAX_S" \
  --log "$dir/client.log" >"$dir/client.out" 2>&1 &
PIDS+=($!)
wait $! || log "client exited with $?"
sleep $(( IDLE_MS / 1000 + 2 )) # the last pooled session closes the backend's way
stop_pid "$PX" USR1 10
sleep 1
stop_pid "$TD_ANY" INT 5
stop_pid "$be" TERM 5
teardown # stops the relay, which then prints its counts (max_late_ms)
log "relay: $(tail -n 1 "$dir/relay.out"); tcpdump: $(grep -h dropped "$dir/tcpdump-any.out" | tr '\n' ' ')"

mkdir -p "$OUT_DIR"
cp "$dir/proxy-any.pcap" "$OUT_DIR/$NAME.proxy-any.pcap"
for f in client haproxy node; do cp "$dir/$f.log" "$OUT_DIR/$NAME.$f.log"; done
python3 "$HERE/truth-h2.py" --haproxy "$OUT_DIR/$NAME.haproxy.log" --node "$OUT_DIR/$NAME.node.log" \
  --client "$OUT_DIR/$NAME.client.log" --out "$OUT_DIR/$NAME.truth.json"
log "scenario $NAME: $(python3 -c 'import json,sys; t=json.load(open(sys.argv[1])); print({k: t[k] for k in ("requests", "races", "clients_got")})' "$OUT_DIR/$NAME.truth.json")"
