# lib.sh - sourced by the bench scripts: `. lib.sh [KNEECAP]` moves to the
# repository root and sets root and KNEECAP (the given binary, else a release
# build in build-bench, configured and built on first use).
set -u
cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
root=$PWD
KNEECAP=${1:-}
if [ -z "$KNEECAP" ]; then
	[ -f build-bench/build.ninja ] || meson setup build-bench --buildtype=release >/dev/null || exit 1
	ninja -C build-bench -j2 kneecap >/dev/null || exit 1
	KNEECAP=$root/build-bench/kneecap
fi

# free_port: prints a loopback TCP port nobody listens on now.
free_port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_nginx CPU PORT [HTTP_LINES]: one nginx worker pinned to CPU answering
# 200 "ok" on 127.0.0.1:PORT (HTTP_LINES go into its http block), files in
# $TMP; sets ngpid for the caller's EXIT trap.
start_nginx() {
	cat >"$TMP/nginx.conf" <<NGX
worker_processes 1;
daemon off;
pid $TMP/nginx.pid;
error_log $TMP/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $TMP/body;
  keepalive_requests 100000000;
  server { listen 127.0.0.1:$2; location / { return 200 "ok"; } }
${3:-}
}
NGX
	taskset -c "$1" nginx -p "$TMP" -c "$TMP/nginx.conf" &
	ngpid=$!
	sleep 0.5
}
