#!/usr/bin/env bash
# Record the other ways backends and proxies close idle keep-alive connections,
# with ground truth from the servers' own logs or syscall logs (strace).
# Same namespaces, relay and teardown as record.sh (scripts/lab/lib.sh).
#
#   sudo scripts/lab/record-shapes.sh [apache] [gunicorn] [uvicorn] [caddy] [client-lib] [faults]
#
#   apache      nginx -> Apache httpd 2.4 event MPM, KeepAliveTimeout 2 (strace)
#   gunicorn    nginx -> gunicorn 20 gthread --keep-alive 2, one instance per lane (strace)
#   uvicorn     nginx -> uvicorn 0.17 --timeout-keep-alive 2, one instance per lane (strace)
#   caddy       Caddy 2.6 reverse_proxy -> Node backend.js, GET and POST lanes (strace of Caddy)
#   client-lib  http.client pooled client in rc-proxy -> Node backend.js, no proxy
#   faults      nginx -> faults.js (truncated, app reset, slow, refused) + normal requests
#
# Topology as record.sh: rc-client -- rc-proxy -- rc-delay (relay, DELAY_MS) -- rc-backend.
# Writes fixtures/lab/NAME.* (see fixtures/README.md).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
OUT_DIR=${OUT_DIR:-$REPO/fixtures/lab}

DELAY_MS=${DELAY_MS:-20}
LANES=${LANES:-4}
CLIENT_MAX_S=${CLIENT_MAX_S:-120}
KEEP_PROXY_PCAP_MAX=${KEEP_PROXY_PCAP_MAX:-204800} # commit NAME.proxy-any.pcap only when at most this big
NGINX_LISTEN_BASE=9000
BACKEND_PORT_BASE=8080
REFUSED_PORT=8099                 # faults: an upstream port with no listener
PY=${PY:-/usr/bin/python3}        # the Debian python that has gunicorn and uvicorn

NS_C=rc-client NS_P=rc-proxy NS_D=rc-delay NS_B=rc-backend
IP_C=10.231.1.1 IP_PC=10.231.1.2 IP_PB=10.231.2.1 IP_B=10.231.2.2

# shellcheck source=scripts/lab/lib.sh
. "$HERE/lib.sh"

ALL=(apache gunicorn uvicorn caddy client-lib faults)
[ "$(id -u)" = 0 ] || die "needs root (network namespaces, raw sockets, tcpdump, strace)"
for tool in ip ss ethtool tcpdump node python3 timeout strace; do
  command -v "$tool" >/dev/null || die "missing tool: $tool (see scripts/lab/README.md)"
done
scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || scenarios=("${ALL[@]}")
for s in "${scenarios[@]}"; do
  case " ${ALL[*]} " in *" $s "*) ;; *) die "unknown scenario: $s" ;; esac
done

PIDS=()
WORK=$(mktemp -d -t racecap-lab.XXXXXX)
chmod 755 "$WORK" # Apache's children run as www-data and read their document root here
lab_traps

STRACE=(strace -f -ttt -yy -s 96 -e trace=network,read,write,writev,sendfile,close,shutdown)

lane_ports() { local l p=""; for ((l = 1; l <= LANES; l++)); do p+="${p:+,}$(($1 + l))"; done; echo "$p"; }

nginx_shapes_conf() { # nginx_shapes_conf DIR FAULTS(0|1)
  local dir=$1 faults=$2 lane
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
    if [ "$faults" = 1 ]; then
      # the race format plus bytes, so truncated bodies show in the log
      echo "  log_format race '\$msec \"\$request\" \$status \"\$upstream_addr\" \"\$upstream_status\" \"\$upstream_connect_time\" \"\$upstream_response_time\" \$request_time \$remote_port \$body_bytes_sent \"\$upstream_bytes_received\" \"\$upstream_response_length\"';"
    else
      echo "  log_format race '\$msec \"\$request\" \$status \"\$upstream_addr\" \"\$upstream_status\" \"\$upstream_connect_time\" \"\$upstream_response_time\" \$request_time \$remote_port';"
    fi
    echo "  access_log $dir/nginx-access.log race;"
    echo "  client_body_temp_path $dir/tmp/body; proxy_temp_path $dir/tmp/proxy;"
    echo "  fastcgi_temp_path $dir/tmp/fcgi; uwsgi_temp_path $dir/tmp/uwsgi; scgi_temp_path $dir/tmp/scgi;"
    echo "  keepalive_timeout 10s;"
    [ "$faults" = 1 ] && echo "  proxy_read_timeout 1s;"
    [ "$faults" = 1 ] && echo "  upstream refused { server $IP_B:$REFUSED_PORT; }"
    for ((lane = 1; lane <= LANES; lane++)); do
      echo "  upstream lane$lane { server $IP_B:$((BACKEND_PORT_BASE + lane)); keepalive 1; }"
      echo "  server {"
      echo "    listen $IP_PC:$((NGINX_LISTEN_BASE + lane));"
      echo "    proxy_http_version 1.1;"
      echo "    proxy_set_header Connection \"\";"
      echo "    location / { proxy_pass http://lane$lane; }"
      [ "$faults" = 1 ] && echo "    location ~ /refused\$ { proxy_pass http://refused; }"
      echo "  }"
    done
    echo "}"
  } >"$dir/nginx.conf"
}

apache_conf() { # apache_conf DIR
  local dir=$1 lane m
  mkdir -p "$dir/www" "$dir/run"
  printf '{"ok":true,"server":"apache"}\n' >"$dir/www/ok.json"
  chmod -R a+rX "$dir"
  {
    echo "ServerRoot /etc/apache2"
    echo "ServerName backend"
    for m in mpm_event authz_core alias mime; do
      echo "LoadModule ${m}_module /usr/lib/apache2/modules/mod_${m}.so"
    done
    echo "PidFile $dir/run/apache.pid"
    echo "DefaultRuntimeDir $dir/run"
    echo "Mutex file:$dir/run default"
    echo "User www-data"
    echo "Group www-data"
    echo "ErrorLog $dir/apache-error.log"
    echo "LogLevel info"
    for ((lane = 1; lane <= LANES; lane++)); do echo "Listen $IP_B:$((BACKEND_PORT_BASE + lane))"; done
    echo "KeepAlive On"
    echo "KeepAliveTimeout 2"
    echo "MaxKeepAliveRequests 0"
    echo "StartServers 1"
    echo "ServerLimit 1"
    echo "ThreadsPerChild 16"
    echo "MaxRequestWorkers 16"
    echo "MinSpareThreads 1"
    echo "MaxSpareThreads 16"
    echo "TypesConfig /etc/mime.types"
    echo "DocumentRoot $dir/www"
    echo "<Directory $dir/www>"
    echo "  Require all granted"
    echo "</Directory>"
    echo "AliasMatch \"^/lane[0-9]+/[0-9]+\$\" \"$dir/www/ok.json\""
    # begin/end times, the request, status, proxy port, keep-alive count, µs, conn status, bytes
    echo "LogFormat \"%{begin:sec}t.%{begin:usec_frac}t %{end:sec}t.%{end:usec_frac}t \\\"%r\\\" %>s %{c}a %{remote}p %k %D %X %B\" race"
    echo "CustomLog $dir/apache-access.log race"
  } >"$dir/apache.conf"
}

caddy_conf() { # caddy_conf DIR
  local dir=$1 lane
  {
    echo "{"
    echo "  admin off"
    echo "  auto_https off"
    echo "  log {"
    echo "    output file $dir/caddy.log"
    echo "    format json"
    echo "    level INFO"
    echo "  }"
    echo "}"
    for ((lane = 1; lane <= LANES; lane++)); do
      echo ":$((NGINX_LISTEN_BASE + lane)) {"
      echo "  bind $IP_PC"
      echo "  log {"
      echo "    output file $dir/caddy-access.log"
      echo "    format json"
      echo "  }"
      echo "  reverse_proxy $IP_B:$((BACKEND_PORT_BASE + lane))"
      echo "}"
    done
  } >"$dir/Caddyfile"
}

run_shape() {
  local name=$1
  local dir="$WORK/$name"
  mkdir -p "$dir"
  chmod 755 "$dir"
  log "scenario $name: delay=${DELAY_MS}ms lanes=$LANES"
  topology
  start_relay "$dir"
  start_captures "$dir"
  local bports pports
  bports=$(lane_ports $BACKEND_PORT_BASE)
  pports=$(lane_ports $NGINX_LISTEN_BASE)

  # --- backend -----------------------------------------------------------
  local backend_pid="" strace_pid="" ka_ms="" software="" server_pids=() lane
  case $name in
    apache)
      ka_ms=2000
      apache_conf "$dir"
      ip netns exec $NS_B "${STRACE[@]}" -o "$dir/backend.strace" \
        apache2 -f "$dir/apache.conf" -DFOREGROUND >"$dir/apache.out" 2>&1 &
      strace_pid=$!
      PIDS+=($strace_pid)
      wait_until 15 "apache" listening $NS_B $((BACKEND_PORT_BASE + LANES))
      wait_until 5 "apache pid" test -s "$dir/run/apache.pid"
      server_pids=("$(cat "$dir/run/apache.pid")")
      software="$(apache2 -v | sed -n 's/^Server version: //p')"
      ;;
    gunicorn)
      ka_ms=2000
      # one gunicorn (1 gthread worker) per lane, all under one strace
      local cmd=""
      for ((lane = 1; lane <= LANES; lane++)); do
        cmd+="$PY /usr/bin/gunicorn --chdir '$HERE' -w 1 -k gthread --threads 1 --keep-alive 2 --graceful-timeout 2"
        cmd+=" -b $IP_B:$((BACKEND_PORT_BASE + lane)) --pid '$dir/gunicorn-$lane.pid'"
        cmd+=" --access-logfile '$dir/gunicorn-access.log' --error-logfile '$dir/gunicorn-error.log'"
        cmd+=" --access-logformat '%(t)s \"%(r)s\" %(s)s %(B)s %(L)s' wsgi_app:app & "
      done
      ip netns exec $NS_B "${STRACE[@]}" -o "$dir/backend.strace" sh -c "${cmd}wait" >"$dir/gunicorn.out" 2>&1 &
      strace_pid=$!
      PIDS+=($strace_pid)
      for ((lane = 1; lane <= LANES; lane++)); do
        wait_until 30 "gunicorn lane $lane" listening $NS_B $((BACKEND_PORT_BASE + lane))
        wait_until 5 "gunicorn pid" test -s "$dir/gunicorn-$lane.pid"
        server_pids+=("$(cat "$dir/gunicorn-$lane.pid")")
      done
      software="gunicorn $($PY /usr/bin/gunicorn --version 2>&1 | sed 's/.*version //; s/)//')"
      sleep 1.5 # let every worker finish booting
      ;;
    uvicorn)
      ka_ms=2000
      local cmd=""
      for ((lane = 1; lane <= LANES; lane++)); do
        cmd+="$PY -m uvicorn --app-dir '$HERE' --host $IP_B --port $((BACKEND_PORT_BASE + lane))"
        cmd+=" --timeout-keep-alive 2 --http h11 --loop asyncio --log-level info asgi_app:app & "
      done
      ip netns exec $NS_B "${STRACE[@]}" -o "$dir/backend.strace" sh -c "${cmd}wait" >"$dir/uvicorn.log" 2>&1 &
      strace_pid=$!
      PIDS+=($strace_pid)
      for ((lane = 1; lane <= LANES; lane++)); do
        wait_until 30 "uvicorn lane $lane" listening $NS_B $((BACKEND_PORT_BASE + lane))
      done
      local p
      for p in $(ip netns exec $NS_B ss -Hltnp | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u); do server_pids+=("$p"); done
      software="uvicorn $($PY -c 'import uvicorn; print(uvicorn.__version__)')"
      ;;
    caddy|client-lib)
      ka_ms=2000
      ip netns exec $NS_B node "$HERE/backend.js" --host $IP_B --ports "$bports" --keep-alive-ms $ka_ms \
        --log "$dir/node.log" --max-seconds 600 >"$dir/node.out" 2>&1 &
      backend_pid=$!
      PIDS+=($backend_pid)
      wait_until 10 "node" listening $NS_B $((BACKEND_PORT_BASE + LANES))
      software="Node.js $(node --version)"
      ;;
    faults)
      ka_ms=2000
      ip netns exec $NS_B node "$HERE/faults.js" --host $IP_B --ports "$bports" --keep-alive-ms $ka_ms \
        --slow-ms 1500 --log "$dir/node.log" --max-seconds 600 >"$dir/node.out" 2>&1 &
      backend_pid=$!
      PIDS+=($backend_pid)
      wait_until 10 "faults backend" listening $NS_B $((BACKEND_PORT_BASE + LANES))
      software="Node.js $(node --version) (scripts/lab/faults.js)"
      ;;
  esac

  # --- proxy ------------------------------------------------------------
  local proxy_pid="" proxy="" proxy_strace_pid=""
  case $name in
    apache|gunicorn|uvicorn|faults)
      proxy="nginx $(nginx -v 2>&1 | sed 's/^nginx version: nginx\///')"
      nginx_shapes_conf "$dir" "$([ "$name" = faults ] && echo 1 || echo 0)"
      ip netns exec $NS_P nginx -e "$dir/nginx-error.log" -c "$dir/nginx.conf" >"$dir/nginx.out" 2>&1 &
      proxy_pid=$!
      PIDS+=($proxy_pid)
      wait_until 10 "nginx" listening $NS_P $((NGINX_LISTEN_BASE + LANES))
      ;;
    caddy)
      proxy="caddy $(caddy version | awk '{print $1}')"
      caddy_conf "$dir"
      mkdir -p "$dir/xdg"
      ip netns exec $NS_P env HOME="$dir/xdg" XDG_DATA_HOME="$dir/xdg" XDG_CONFIG_HOME="$dir/xdg" \
        "${STRACE[@]}" -o "$dir/caddy.strace" caddy run --config "$dir/Caddyfile" --adapter caddyfile \
        >"$dir/caddy.out" 2>&1 &
      proxy_strace_pid=$!
      PIDS+=($proxy_strace_pid)
      wait_until 20 "caddy" listening $NS_P $((NGINX_LISTEN_BASE + LANES))
      proxy_pid=$(ip netns exec $NS_P ss -Hltnp "sport = :$((NGINX_LISTEN_BASE + 1))" | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)
      PIDS+=($proxy_pid)
      ;;
    client-lib) proxy="none (python http.client in rc-proxy)" ;;
  esac

  # --- client -------------------------------------------------------------
  python3 "$HERE/plans.py" "$name" --lanes "$LANES" >"$dir/plan.json"
  local started_at client_rc=0
  started_at=$(date +%s.%N)
  log "client driver running (bounded to ${CLIENT_MAX_S}s)"
  if [ "$name" = client-lib ]; then
    timeout $((CLIENT_MAX_S + 30)) ip netns exec $NS_P python3 -u "$HERE/client_pool.py" --host $IP_B \
      --base-port $BACKEND_PORT_BASE --plan "$dir/plan.json" --max-seconds "$CLIENT_MAX_S" \
      --log "$dir/client.log" >"$dir/client.out" 2>&1 &
  else
    local gap_from=done
    [ "$name" = gunicorn ] && gap_from=sent
    timeout $((CLIENT_MAX_S + 30)) ip netns exec $NS_C python3 -u "$HERE/client.py" --host $IP_PC \
      --base-port $NGINX_LISTEN_BASE --plan "$dir/plan.json" --gap-from $gap_from \
      --max-seconds "$CLIENT_MAX_S" --log "$dir/client.log" >"$dir/client.out" 2>&1 &
  fi
  PIDS+=($!)
  wait $! || client_rc=$?
  [ "$client_rc" = 0 ] || log "client driver exited with $client_rc"
  cat "$dir/client.out" >&2

  # idle connections close the backend's way (longest real close: Node 3 s, gunicorn 3 s)
  sleep 4
  # nginx: QUIT is its graceful stop; Caddy (Go) stops gracefully on TERM
  [ -n "$proxy_pid" ] && stop_pid "$proxy_pid" "$([ "$name" = caddy ] && echo TERM || echo QUIT)" 10
  [ -n "$proxy_strace_pid" ] && stop_pid "$proxy_strace_pid" TERM 5
  sleep 1.5
  stop_pid "$TD_B" INT 5
  stop_pid "$TD_P" INT 5
  local p
  for p in "${server_pids[@]}"; do stop_pid "$p" TERM 8; done
  [ -n "$strace_pid" ] && stop_pid "$strace_pid" TERM 5
  [ -n "$backend_pid" ] && stop_pid "$backend_pid" TERM 5
  grep -h "dropped by kernel" "$dir"/tcpdump-*.out | grep -v "^0 " | sed 's/^/tcpdump: /' >&2 || true
  teardown
  local finished_at
  finished_at=$(date +%s.%N)

  python3 - "$dir/meta.json" <<EOF
import json, sys
json.dump({
  "scenario": "$name", "keep_alive_timeout_ms": $ka_ms, "software": "$software", "proxy": "$proxy",
  "delay_ms_each_way": $DELAY_MS, "measured_rtt_ms": $RTT_MS, "lanes": $LANES,
  "proxy_ip": "$IP_PB", "backend_ip": "$IP_B", "client_ip": "$IP_C", "nginx_ip": "$IP_PC",
  "nginx_listen_base": $NGINX_LISTEN_BASE, "backend_port_base": $BACKEND_PORT_BASE,
  "refused_port": $REFUSED_PORT, "node": "$(node --version)", "tshark_free": True,
  "plan": json.load(open("$dir/plan.json")),
  "started_at": $started_at, "finished_at": $finished_at,
}, open(sys.argv[1], "w"), indent=1)
EOF

  # --- fixtures ------------------------------------------------------------
  mkdir -p "$OUT_DIR"
  rm -f "$OUT_DIR/$name".*
  cp "$dir/backend.pcap" "$OUT_DIR/$name.backend.pcap"
  if [ "$(stat -c %s "$dir/proxy-any.pcap")" -le "$KEEP_PROXY_PCAP_MAX" ]; then
    cp "$dir/proxy-any.pcap" "$OUT_DIR/$name.proxy-any.pcap"
  else
    log "proxy-any.pcap is $(stat -c %s "$dir/proxy-any.pcap") bytes: not kept"
  fi
  cp "$dir/client.log" "$OUT_DIR/$name.client.log"
  cp "$dir/meta.json" "$OUT_DIR/$name.meta.json"
  local f
  for f in nginx-access.log nginx-error.log node.log apache-access.log apache-error.log gunicorn-access.log \
    gunicorn-error.log uvicorn.log caddy.log caddy-access.log; do
    [ -f "$dir/$f" ] && cp "$dir/$f" "$OUT_DIR/$name.$f"
  done
  # syscall logs: only the lines about TCP sockets (accept, reads, writes, shutdown, close),
  # with the resumption of any such call strace had to split (<unfinished ...>), and
  # without reads that found nothing (EAGAIN)
  for f in backend caddy; do
    [ -f "$dir/$f.strace" ] || continue
    awk '/<TCP:\[/ { if ($0 ~ /<unfinished \.\.\.>$/) p[$1] = 1; else { delete p[$1]; if ($0 ~ /EAGAIN/) next }; print; next }
         / resumed>/ { if ($1 in p) { delete p[$1]; print } }' "$dir/$f.strace" >"$OUT_DIR/$name.$f-strace.log"
  done
  # no machine paths in fixtures: the temp dir and the script dir by name only
  for f in "$OUT_DIR/$name".*; do
    case $f in *.pcap) ;; *) sed -i "s|$WORK|\$WORK|g; s|$HERE|scripts/lab|g" "$f" ;; esac
  done
  python3 "$HERE/truth_shapes.py" --meta "$OUT_DIR/$name.meta.json" --dir "$OUT_DIR" --out "$OUT_DIR/$name.truth.json"
  log "relay: $(tail -n 1 "$dir/relay.out")"
  log "scenario $name done: $(python3 -c 'import json,sys; t=json.load(open(sys.argv[1])); print(json.dumps(t["summary"]["races_by_kind"]), "races", len(t["races"]), "statuses", t["summary"]["client_statuses"])' "$OUT_DIR/$name.truth.json")"
}

for s in "${scenarios[@]}"; do
  run_shape "$s"
done
log "fixtures written to ${OUT_DIR#"$REPO"/}"
