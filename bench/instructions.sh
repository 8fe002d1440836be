#!/usr/bin/env bash
# bench/instructions.sh: user-space instructions per request, counted by callgrind, for usher
# and (when installed) lighttpd answering the same requests. Unlike time, the count barely
# moves with the machine's load, so it shows what a change to the request path costs.
#
#   bench/instructions.sh [--usher PATH] [--seconds S]
#
# Rows: a (1 KiB file, keep-alive), a+ (the same with the eleven fields a browser sends),
# c (100 KiB file, keep-alive: sent with sendfile, whose copy is the kernel's and not
# counted), e (1 KiB, a new connection per request), j (a 404 with a problem+json body),
# o (a 100 KiB HTML page with gzip, compressed once and kept, as in compare.sh's row o),
# when php-fpm is installed l (a PHP page through php-fpm over FastCGI, as in row l of
# compare.sh), and when nginx is installed m (reverse proxy to an upstream nginx answering
# 1 KiB, as in row m); php-fpm and the upstream run outside valgrind and are not counted.
# Each server runs under valgrind on 127.0.0.1, wrk sends for S seconds (default 4) over 8
# connections while callgrind counts, and the count is divided by the requests wrk
# completed. Installs valgrind and wrk when missing (as root, Debian). Valgrind 3.19
# (Debian 12) refuses `openat2`, so usher opens files as on a kernel before Linux 5.12.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
USHER_BIN=""
SECONDS_PER_ROW=4

while [ $# -gt 0 ]; do
  case "$1" in
    --usher) USHER_BIN="${2:?--usher needs a path}"; shift ;;
    --seconds) SECONDS_PER_ROW="${2:?--seconds needs a number}"; shift ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
  shift
done

need() {
  command -v "$1" >/dev/null && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq >&2 && apt-get install -y -qq "$2" >&2
  else
    echo "missing $1 (install $2)" >&2
    exit 1
  fi
}
need valgrind valgrind
need callgrind_control valgrind
need wrk wrk
need curl curl

if [ -z "$USHER_BIN" ]; then
  (cd "$BENCH_DIR/.." && cargo build --release -q)
  USHER_BIN="$BENCH_DIR/../target/release/usher"
fi

WORK=$(mktemp -d)
PID=""
cleanup() {
  if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
  if [ -n "${UPSTREAM_PID:-}" ]; then
    kill "$UPSTREAM_PID" 2>/dev/null || true
    wait "$UPSTREAM_PID" 2>/dev/null || true
  fi
  if [ -n "${FPM_PID:-}" ]; then
    kill "$FPM_PID" 2>/dev/null || true
    wait "$FPM_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$WORK/root" "$WORK/run"
head -c 1024 /dev/urandom >"$WORK/root/1k.bin"
head -c 102400 /dev/urandom >"$WORK/root/100k.bin"
echo hello >"$WORK/root/index.html"
# Row o's page, as compare.sh makes it.
# shellcheck source=bench/page.sh
. "$BENCH_DIR/page.sh"
row_o_page "$WORK/root/page.html"
# Row l's page, as in compare.sh.
cat >"$WORK/root/hello.php" <<'EOF'
<?php echo "hello ", $_SERVER['REQUEST_URI'];
EOF
chmod -R a+rX "$WORK/root"

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# count NAME PORT PATH [wrk args]: the server (PID) is running under callgrind on PORT.
count() {
  local name=$1 port=$2 path=$3; shift 3
  local requests total
  wrk -t1 -c8 -d1s "$@" "http://127.0.0.1:$port$path" >/dev/null
  callgrind_control -i on "$PID" >/dev/null 2>&1
  requests=$(wrk -t1 -c8 -d"${SECONDS_PER_ROW}s" "$@" "http://127.0.0.1:$port$path" |
    awk '/requests in/ {print $1}')
  callgrind_control -i off "$PID" >/dev/null 2>&1
  callgrind_control -d "$PID" >/dev/null 2>&1
  total=0
  for f in "$WORK/run/$name".cg*; do
    [ -s "$f" ] || continue
    n=$(callgrind_annotate "$f" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
    total=$((total + ${n:-0}))
    rm -f "$f"
  done
  echo "$((total / requests))"
}

# start NAME COMMAND...: run COMMAND under callgrind with collection off; wait until it answers.
start() {
  local name=$1 port=$2; shift 2
  valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$WORK/run/$name.cg" \
    "$@" >"$WORK/run/$name.log" 2>&1 &
  PID=$!
  wait_ready "$name" "$port" "$WORK/run/$name.log"
}

# wait_ready WHAT PORT LOG: until 127.0.0.1:PORT answers (30 s at most), else show LOG and
# exit.
wait_ready() {
  for _ in $(seq 150); do
    curl -s -o /dev/null "http://127.0.0.1:$2/" && return 0
    sleep 0.2
  done
  echo "$1 did not start (see its log below)" >&2
  cat "$3" >&2
  exit 1
}

stop() {
  kill "$PID" 2>/dev/null || true
  wait "$PID" 2>/dev/null || true
  PID=""
}

# Row m's upstream: nginx answering 1 KiB from memory (bench/nginx-upstream.conf.in), outside
# valgrind. Sets UPSTREAM_PORT and UPSTREAM_PID.
UPSTREAM_PID=""
start_upstream() {
  local status_port user_line="" body
  UPSTREAM_PORT=$(free_port)
  status_port=$(free_port)
  body=$(head -c 1024 /dev/zero | tr '\0' x)
  [ "$(id -u)" != 0 ] || user_line="user root;"
  mkdir -p "$WORK/run/nginx-upstream-temp"
  sed -e "s#@USER_LINE@#$user_line#; s#@RUN@#$WORK/run#g; s#@PORT@#$UPSTREAM_PORT#" \
    -e "s#@STATUS_PORT@#$status_port#; s#@BODY@#$body#" \
    "$BENCH_DIR/nginx-upstream.conf.in" >"$WORK/run/nginx-upstream.conf"
  nginx -c "$WORK/run/nginx-upstream.conf" -p "$WORK/run" -g 'daemon off;' \
    >"$WORK/run/nginx-upstream.log" 2>&1 &
  UPSTREAM_PID=$!
  wait_ready "the upstream nginx" "$UPSTREAM_PORT" "$WORK/run/nginx-upstream.log"
}

# Row l's php-fpm (bench/php-fpm.conf.in, 8 children: one per wrk connection), outside
# valgrind. Sets FPM_SOCK and FPM_PID.
FPM_PID=""
start_fpm() {
  local fpm=$1
  local -a root_flag=()
  FPM_SOCK="$WORK/run/php-fpm.sock"
  sed -e "s#@RUN@#$WORK/run#g; s#@SOCKET@#$FPM_SOCK#; s#@CHILDREN@#8#" \
    "$BENCH_DIR/php-fpm.conf.in" >"$WORK/run/php-fpm.conf"
  # As root php-fpm wants a user for its children, or -R to run them as root.
  [ "$(id -u)" != 0 ] || root_flag=(-R)
  "$fpm" -F -y "$WORK/run/php-fpm.conf" "${root_flag[@]}" >"$WORK/run/php-fpm.out" 2>&1 &
  FPM_PID=$!
  for _ in $(seq 150); do
    [ -S "$FPM_SOCK" ] && return 0
    sleep 0.2
  done
  echo "php-fpm made no socket (see its log below)" >&2
  cat "$WORK/run/php-fpm.out" >&2
  exit 1
}

# count_both ROW PATH USHER_CONFIG LIGHTTPD_TEMPLATE NAME=VALUE: row ROW (requests for
# PATH) for usher run with USHER_CONFIG, then, when installed, for lighttpd with its
# LIGHTTPD_TEMPLATE filled in (the usual placeholders, and @NAME@ by VALUE).
count_both() {
  local row=$1 path=$2 usher_config=$3 template=$4 fill=$5
  PORT=$(free_port)
  RUST_LOG=usher=warn start "usher-$row" "$PORT" "$USHER_BIN" run -c "$usher_config" \
    --listen "127.0.0.1:$PORT" --workers 1
  RESULT[usher,$row]=$(count "usher-$row" "$PORT" "$path")
  stop
  if [[ " ${SERVERS[*]} " == *" lighttpd "* ]]; then
    PORT=$(free_port)
    sed -e "s#@ROOT@#$WORK/root#; s#@PORT@#$PORT#; s#@RUN@#$WORK/run#; s#@WORKERS@#0#" \
      -e "s#@${fill%%=*}@#${fill#*=}#" \
      "$BENCH_DIR/$template" >"$WORK/run/lighttpd-$row.conf"
    start "lighttpd-$row" "$PORT" lighttpd -D -f "$WORK/run/lighttpd-$row.conf"
    RESULT[lighttpd,$row]=$(count "lighttpd-$row" "$PORT" "$path")
    stop
  fi
}

declare -A RESULT
# What Firefox 128 sends for a page, besides Host.
BROWSER_FIELDS=(
  -H 'User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0'
  -H 'Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'
  -H 'Accept-Language: en-US,en;q=0.5'
  -H 'Accept-Encoding: gzip, deflate, br, zstd'
  -H 'Upgrade-Insecure-Requests: 1'
  -H 'Sec-Fetch-Dest: document'
  -H 'Sec-Fetch-Mode: navigate'
  -H 'Sec-Fetch-Site: none'
  -H 'Sec-Fetch-User: ?1'
  -H 'Priority: u=0, i'
  -H 'Cookie: session=abcdef0123456789; theme=dark'
)
run_server() {
  local name=$1
  RESULT[$name,a]=$(count "$name" "$PORT" /1k.bin)
  RESULT[$name,a+]=$(count "$name" "$PORT" /1k.bin "${BROWSER_FIELDS[@]}")
  RESULT[$name,c]=$(count "$name" "$PORT" /100k.bin)
  RESULT[$name,e]=$(count "$name" "$PORT" /1k.bin -H 'Connection: close')
  RESULT[$name,j]=$(count "$name" "$PORT" /no/such/file.txt -H 'Accept: application/problem+json')
}

PORT=$(free_port)
RUST_LOG=usher=warn start usher "$PORT" "$USHER_BIN" serve "$WORK/root" \
  --listen "127.0.0.1:$PORT" --workers 1
run_server usher
stop
SERVERS=(usher)

if command -v lighttpd >/dev/null; then
  PORT=$(free_port)
  sed -e "s#@ROOT@#$WORK/root#; s#@PORT@#$PORT#; s#@RUN@#$WORK/run#; s#@WORKERS@#0#" \
    "$BENCH_DIR/lighttpd.conf.in" >"$WORK/run/lighttpd.conf"
  start lighttpd "$PORT" lighttpd -D -f "$WORK/run/lighttpd.conf"
  run_server lighttpd
  stop
  SERVERS+=(lighttpd)
fi

ROWS=(a a+ c e j o)
# Row o: the page compressed with gzip on the fly, as in compare.sh (usher --compress;
# lighttpd's mod_deflate with its cache of compressed files).
PORT=$(free_port)
RUST_LOG=usher=warn start usher-o "$PORT" "$USHER_BIN" serve "$WORK/root" \
  --listen "127.0.0.1:$PORT" --workers 1 --compress
RESULT[usher,o]=$(count usher-o "$PORT" /page.html -H 'Accept-Encoding: gzip')
stop
if [[ " ${SERVERS[*]} " == *" lighttpd "* ]]; then
  PORT=$(free_port)
  mkdir -p "$WORK/run/deflate-cache"
  sed -e "s#@ROOT@#$WORK/root#; s#@PORT@#$PORT#; s#@RUN@#$WORK/run#; s#@WORKERS@#0#" \
    "$BENCH_DIR/lighttpd.conf.in" >"$WORK/run/lighttpd-o.conf"
  printf '%s\n' 'server.modules += ("mod_deflate")' \
    'deflate.mimetypes = ("text/html")' 'deflate.allowed-encodings = ("gzip")' \
    'deflate.compression-level = 5' "deflate.cache-dir = \"$WORK/run/deflate-cache\"" \
    >>"$WORK/run/lighttpd-o.conf"
  start lighttpd-o "$PORT" lighttpd -D -f "$WORK/run/lighttpd-o.conf"
  RESULT[lighttpd,o]=$(count lighttpd-o "$PORT" /page.html -H 'Accept-Encoding: gzip')
  stop
fi
FPM=$(command -v php-fpm || find /usr/sbin -maxdepth 1 -name 'php-fpm[0-9]*' | sort | head -n 1)
if [ -n "$FPM" ]; then
  start_fpm "$FPM"
  sed -e "s#@ROOT@#$WORK/root#; s#@SOCKET@#$FPM_SOCK#; s#@CONNS@#8#" \
    "$BENCH_DIR/usher-fastcgi.toml.in" >"$WORK/run/usher-fastcgi.toml"
  count_both l /hello.php "$WORK/run/usher-fastcgi.toml" lighttpd-fastcgi.conf.in \
    "SOCKET=$FPM_SOCK"
  kill "$FPM_PID" 2>/dev/null || true
  wait "$FPM_PID" 2>/dev/null || true
  FPM_PID=""
  ROWS+=(l)
fi
if command -v nginx >/dev/null; then
  start_upstream
  sed -e "s#@UPSTREAM_PORT@#$UPSTREAM_PORT#" "$BENCH_DIR/usher-proxy.toml.in" \
    >"$WORK/run/usher-proxy.toml"
  count_both m / "$WORK/run/usher-proxy.toml" lighttpd-proxy.conf.in \
    "UPSTREAM_PORT=$UPSTREAM_PORT"
  kill "$UPSTREAM_PID" 2>/dev/null || true
  wait "$UPSTREAM_PID" 2>/dev/null || true
  UPSTREAM_PID=""
  ROWS+=(m)
fi

header="| row | workload |"
rule="|---|---|"
for s in "${SERVERS[@]}"; do header+=" $s |"; rule+="---|"; done
echo "$header"
echo "$rule"
for row in "${ROWS[@]}"; do
  case $row in
    a) what="1 KiB file, keep-alive" ;;
    a+) what="the same, with a browser's eleven request fields" ;;
    c) what="100 KiB file, keep-alive (sent with sendfile)" ;;
    e) what="1 KiB file, a new connection per request" ;;
    j) what="404 with a problem+json body" ;;
    l) what="PHP page through php-fpm (FastCGI)" ;;
    m) what="reverse proxy to an upstream nginx, 1 KiB" ;;
    o) what="100 KiB page, gzip on the fly (kept compressed)" ;;
  esac
  line="| $row | $what |"
  for s in "${SERVERS[@]}"; do line+=" ${RESULT[$s,$row]} |"; done
  echo "$line"
done
echo
echo "Instructions per request in user space (callgrind), ${SECONDS_PER_ROW} s of wrk -c8 each."
