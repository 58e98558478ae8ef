#!/usr/bin/env bash
# Record keep-alive races over TLS between nginx (the proxy, TLS client) and
# a TLS backend, with ground truth from logs, never from a packet tool:
# nginx's access log (upstream attempts and their statuses), Node's own
# socket log, or a syscall log of the nginx backend (strace).
#
#   sudo scripts/lab/record-tls.sh [nginx-tls12] [nginx-tls13] [node-tls12] [node-tls13]
#
#   r16-proxy (nginx + client on its loopback) ──veth── r16-delay (relay.py) ──veth── r16-backend
#   10.216.2.1                                            +DELAY_MS each way            10.216.2.2
#
# nginx as the backend closes an idle connection with close_notify then FIN
# (keepalive_timeout 3s); Node `https` (keepAliveTimeout 2000, closes ~1 s
# later) with a plain FIN. The certificate and key are throwaway: generated
# in the temporary directory and deleted with it.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
OUT_DIR=${OUT_DIR:-$REPO/fixtures/lab}
DELAY_MS=${DELAY_MS:-20}
CLIENT_MAX_S=${CLIENT_MAX_S:-90}
NS_P=r16-proxy NS_D=r16-delay NS_B=r16-backend
IP_P=10.216.2.1 IP_B=10.216.2.2
PROXY_PORT=9161 BACKEND_PORT=8461

LAB_NAME=record-tls
# shellcheck source=scripts/lab/lib.sh
. "$HERE/lib.sh"
[ "$(id -u)" = 0 ] || die "needs root"
for tool in ip ss nginx tcpdump node python3 strace openssl timeout; do
  command -v "$tool" >/dev/null || die "missing tool: $tool"
done
scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || scenarios=(nginx-tls12 nginx-tls13 node-tls12 node-tls13)

PIDS=()
WORK=$(mktemp -d -t racecap-tls.XXXXXX)
lab_traps

common_http() { # common_http DIR
  echo "user root; worker_processes 1; daemon off; master_process on; pid $1/nginx.pid;"
  echo "error_log $1/nginx-error.log info; events { worker_connections 256; }"
  echo "http { client_body_temp_path $1/tmp/b; proxy_temp_path $1/tmp/p; fastcgi_temp_path $1/tmp/f;"
  echo "  uwsgi_temp_path $1/tmp/u; scgi_temp_path $1/tmp/s;"
}

run_scenario() {
  local name=$1 backend=${1%%-*} v=${1##*-tls} proto
  case $v in 12) proto=TLSv1.2 ;; 13) proto=TLSv1.3 ;; *) die "unknown scenario $name" ;; esac
  local dir="$WORK/$name"; mkdir -p "$dir/px/tmp" "$dir/be/tmp"
  log "scenario $name: $backend backend, $proto, delay ${DELAY_MS} ms"
  openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=backend -days 2 \
    -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null
  topology3 r16
  ip netns exec $NS_D python3 -u "$HERE/relay.py" r16-d0 r16-d1 --delay-ms "$DELAY_MS" --max-seconds 300 \
    >"$dir/relay.out" 2>&1 &
  PIDS+=($!)
  wait_until 5 relay grep -q started "$dir/relay.out"
  ip netns exec $NS_B tcpdump -i r16-b0 --immediate-mode -n -U -Z root -w "$dir/backend.pcap" >"$dir/td.out" 2>&1 &
  PIDS+=($!); local td=$!
  wait_until 10 tcpdump grep -q "listening on" "$dir/td.out"

  local gaps
  if [ "$backend" = nginx ]; then
    { common_http "$dir/be"
      echo "  access_log off; keepalive_timeout 3s; keepalive_requests 10000;"
      echo "  server { listen $IP_B:$BACKEND_PORT ssl; ssl_certificate $dir/cert.pem; ssl_certificate_key $dir/key.pem;"
      echo "    ssl_protocols $proto; location / { return 200 \"ok from nginx tls\\n\"; } } }"
    } >"$dir/be/nginx.conf"
    # the syscall log is the witness of each socket's writes and close
    ip netns exec $NS_B strace -f -ttt -yy -e trace=accept4,write,writev,sendmsg,close,shutdown \
      -o "$dir/strace.log" nginx -c "$dir/be/nginx.conf" >"$dir/be.out" 2>&1 &
    PIDS+=($!)
    gaps=$(python3 -c 'print(",".join(str(2900 + 8 * i) for i in range(18)))')
  else
    ip netns exec $NS_B node "$HERE/tls-backend.js" --host $IP_B --port $BACKEND_PORT --key "$dir/key.pem" \
      --cert "$dir/cert.pem" --tls "${v:0:1}.${v:1:1}" --keep-alive-ms 2000 --log "$dir/node.log" \
      --max-seconds 300 >"$dir/be.out" 2>&1 &
    PIDS+=($!)
    gaps=$(python3 -c 'print(",".join(str(2900 + 8 * i) for i in range(18)))')
  fi
  local be_pid=$!
  wait_until 10 backend listening $NS_B $BACKEND_PORT

  { common_http "$dir/px"
    echo "  log_format race '\$msec \"\$request\" \$status \"\$upstream_addr\" \"\$upstream_status\" \$upstream_connect_time';"
    echo "  access_log $dir/px/access.log race; keepalive_timeout 10s;"
    echo "  upstream tlsb { server $IP_B:$BACKEND_PORT; keepalive 1; keepalive_timeout 60s; }"
    echo "  server { listen 127.0.0.1:$PROXY_PORT; location / { proxy_pass https://tlsb; proxy_http_version 1.1;"
    echo "    proxy_set_header Connection \"\"; proxy_ssl_protocols $proto; proxy_ssl_verify off;"
    echo "    proxy_ssl_server_name on; proxy_ssl_name api.internal; } } }"
  } >"$dir/px/nginx.conf"
  ip netns exec $NS_P nginx -c "$dir/px/nginx.conf" >"$dir/px.out" 2>&1 &
  PIDS+=($!); local px=$!
  wait_until 10 nginx listening $NS_P $PROXY_PORT

  timeout $((CLIENT_MAX_S + 10)) ip netns exec $NS_P python3 -u "$HERE/tls-client.py" --host 127.0.0.1 \
    --port $PROXY_PORT --gaps-ms "$gaps" --max-seconds "$CLIENT_MAX_S" --log "$dir/client.log" >"$dir/client.out" 2>&1 &
  PIDS+=($!)
  wait $! || log "client exited with $?"
  sleep 4.5 # the last pooled connection closes the backend's way
  stop_pid "$px" QUIT 10
  sleep 1
  stop_pid "$td" INT 5
  stop_pid "$be_pid" TERM 5
  teardown

  mkdir -p "$OUT_DIR"
  cp "$dir/backend.pcap" "$OUT_DIR/tls-$name.backend.pcap"
  cp "$dir/px/access.log" "$OUT_DIR/tls-$name.nginx-access.log"
  if [ "$backend" = nginx ]; then
    # only the backend's TCP sockets toward the proxy (the witness lines)
    grep -E "TCP:\[$IP_B:$BACKEND_PORT->" "$dir/strace.log" | grep -vE "write\([0-9]+<TCP[^>]*>, \"\", 0\)" \
      | sed -E 's/, ".*"(\.\.\.)?, ([0-9]+)\) += /, ..., \2) = /' >"$OUT_DIR/tls-$name.strace.log" || true
  else
    cp "$dir/node.log" "$OUT_DIR/tls-$name.node.log"
  fi
  python3 "$HERE/truth-tls.py" --access "$OUT_DIR/tls-$name.nginx-access.log" --backend "$backend" \
    --log "$OUT_DIR/tls-$name.$([ "$backend" = nginx ] && echo strace || echo node).log" \
    --out "$OUT_DIR/tls-$name.truth.json" --tls "$proto"
  log "scenario $name: $(cat "$OUT_DIR/tls-$name.truth.json" | python3 -c 'import json,sys; t=json.load(sys.stdin); print({k: t[k] for k in ("attempts", "races", "idle_close_median_ms")})')"
}

for s in "${scenarios[@]}"; do run_scenario "$s"; done
