#!/usr/bin/env bash
# Side-by-side benchmark of usher against nginx and lighttpd (issue 3), with a FastCGI row
# through php-fpm (issue 6) and a reverse-proxy row in front of a shared upstream nginx
# (issue 7); see bench/README.md.
#
# On a fresh Debian machine, as root: installs what is missing, builds usher in release mode,
# makes a document root in a temp dir, starts every server on its own free port on 127.0.0.1,
# pins the server to one core and the load generator to another, runs the rows round by round
# (rotating the server order each round) and prints medians, spreads and usher/other ratios.
# Every process it starts (servers, php-fpm, the upstream nginx) it stops, by the PID it
# recorded. Traffic goes to 127.0.0.1 only.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/page.sh
. "$BENCH_DIR/page.sh"
REPO_DIR=$(dirname "$BENCH_DIR")
HELPERS="$BENCH_DIR/helpers.py"

usage() {
  cat <<'EOF'
usage: bench/compare.sh [options]

  --smoke           every row ~1 s, 1 round, 2 downloads: checks the script and the servers work
  --rounds N        rounds per row (default 3); the server order rotates each round
  --duration S      seconds per timed run, an integer (default 10)
  --rows LIST       rows to run, comma-separated letters a-o (default all); k adds the scaling
                    section, which repeats the chosen rows a-j and n with all cores given to the server;
                    l is PHP through php-fpm (FastCGI), m a reverse proxy to an upstream nginx,
                    o a 100 KiB page compressed with gzip on the fly, all three one core only
  --all-cores       run only the scaling section (all cores to the server)
  --servers LIST    servers to compare (default usher,nginx,lighttpd)
  --usher PATH      use this usher binary instead of running cargo build --release
  --downloads N     100 MiB downloads per server per round in row d (default 5)
  --fpm-cpus LIST   cores for php-fpm in row l (default: the server's core, 0)
  --upstream-cpus LIST
                    cores for the upstream nginx in row m (default: the server's core, 0)
  --proxy-conns N   wrk connections in row m (default 32, the idle upstream connections kept)
  --keep            keep the temp dir (configs, logs, raw results) and print its path
  -h, --help        this text

Exit status: 0 when every server started and every row produced numbers, 1 otherwise.
EOF
}

ROUNDS=3
DURATION=10
ROWS="a,b,c,d,e,f,g,h,i,j,k,l,m,n,o"
SERVERS="usher,nginx,lighttpd"
USHER_BIN=""
DOWNLOADS=5
IDLE_CONNS=1000
ALL_CORES_ONLY=0
KEEP=0
SMOKE=0
FPM_CPUS=""
UPSTREAM_CPUS=""
PIPELINE_DEPTH=16
# Row l: wrk connections, and php-fpm children. A php-fpm child serves one connection at a time
# and, once a server has kept that connection alive, waits on it for its next request instead
# of accepting another one; a server can hold its in-flight connections plus up to 16 idle ones
# (nginx keepalive 16; usher's max-connections is set to the children), so fewer children than that leaves requests waiting in
# php-fpm's listen queue for a child that never comes (the row checks that none are left).
FCGI_CONNS=64
FPM_CHILDREN=$((FCGI_CONNS + 16))
# Row m: wrk connections to the proxy in front of the upstream nginx. 32 by default, as many
# idle upstream connections as usher keeps (fixed) and nginx is given (keepalive 32), so that
# after the first requests every one goes over a reused connection; past 32 in flight, the
# answers of a burst return more connections than either keeps, the rest close and the next
# requests open new ones (see bench/README.md).
PROXY_CONNS=32

while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) SMOKE=1 ;;
    --rounds) ROUNDS="${2:?--rounds needs a number}"; shift ;;
    --duration) DURATION="${2:?--duration needs seconds}"; shift ;;
    --rows) ROWS="${2:?--rows needs a list}"; shift ;;
    --all-cores) ALL_CORES_ONLY=1 ;;
    --servers) SERVERS="${2:?--servers needs a list}"; shift ;;
    --usher) USHER_BIN="${2:?--usher needs a path}"; shift ;;
    --downloads) DOWNLOADS="${2:?--downloads needs a number}"; shift ;;
    --fpm-cpus) FPM_CPUS="${2:?--fpm-cpus needs a CPU list}"; shift ;;
    --upstream-cpus) UPSTREAM_CPUS="${2:?--upstream-cpus needs a CPU list}"; shift ;;
    --proxy-conns) PROXY_CONNS="${2:?--proxy-conns needs a number}"; shift ;;
    --keep) KEEP=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "compare.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done
if [ "$SMOKE" = 1 ]; then
  ROUNDS=1
  DURATION=1
  DOWNLOADS=2
fi

die() { echo "compare.sh: $*" >&2; exit 1; }
log() { echo "$*" >&2; }

[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "--rounds must be a positive integer"
[[ "$DURATION" =~ ^[1-9][0-9]*$ ]] || die "--duration must be a positive integer of seconds"
[[ "$DOWNLOADS" =~ ^[1-9][0-9]*$ ]] || die "--downloads must be a positive integer"
[[ "$PROXY_CONNS" =~ ^[1-9][0-9]*$ ]] || die "--proxy-conns must be a positive integer"
[[ "$ROWS" =~ ^[a-o](,[a-o])*$ ]] || die "--rows must be letters a-o separated by commas"
[[ "$SERVERS" =~ ^(usher|nginx|lighttpd)(,(usher|nginx|lighttpd))*$ ]] \
  || die "--servers must name usher, nginx or lighttpd, separated by commas"
if [ "$ALL_CORES_ONLY" = 1 ] && ! [[ "$ROWS" =~ [a-jn] ]]; then
  die "--all-cores repeats rows a-j and n; rows l, m and o run on one core only"
fi
[[ -z "$FPM_CPUS" || "$FPM_CPUS" =~ ^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$ ]] \
  || die "--fpm-cpus must be a CPU list such as 0, 1 or 0-1"
[[ -z "$UPSTREAM_CPUS" || "$UPSTREAM_CPUS" =~ ^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$ ]] \
  || die "--upstream-cpus must be a CPU list such as 0, 1 or 0-1"

IFS=, read -r -a SERVER_LIST <<<"$SERVERS"
has_row() { [[ ",$ROWS," == *",$1,"* ]]; }
has_server() { [[ ",$SERVERS," == *",$1,"* ]]; }
# Rows l and m run in the one-core section only; --all-cores and "--rows k" alone skip them.
wants_fastcgi() { has_row l && [ "$ALL_CORES_ONLY" = 0 ]; }
wants_proxy() { has_row m && [ "$ALL_CORES_ONLY" = 0 ]; }

# php-fpm: Debian names the binary by version (/usr/sbin/php-fpm8.2).
find_php_fpm() {
  local f
  if command -v php-fpm >/dev/null 2>&1; then
    command -v php-fpm
    return
  fi
  for f in /usr/sbin/php-fpm[0-9]*; do
    if [ -x "$f" ]; then
      echo "$f"
      return
    fi
  done
}

# ---------------------------------------------------------------------------------------------
# Tools: install what is missing (Debian package names), as root only.

ensure_tools() {
  local -a missing=()
  command -v nginx >/dev/null 2>&1 || missing+=(nginx)
  command -v lighttpd >/dev/null 2>&1 || missing+=(lighttpd)
  command -v wrk >/dev/null 2>&1 || missing+=(wrk)
  command -v h2load >/dev/null 2>&1 || missing+=(nghttp2-client)
  command -v curl >/dev/null 2>&1 || missing+=(curl)
  command -v python3 >/dev/null 2>&1 || missing+=(python3)
  command -v taskset >/dev/null 2>&1 || missing+=(util-linux)
  command -v ps >/dev/null 2>&1 || missing+=(procps)
  if wants_fastcgi; then
    [ -n "$(find_php_fpm)" ] || missing+=(php-fpm)
    command -v ss >/dev/null 2>&1 || missing+=(iproute2)
  fi
  if [ ${#missing[@]} -eq 0 ]; then
    return
  fi
  if [ "$(id -u)" != 0 ]; then
    die "missing ${missing[*]}; install them (apt-get install ${missing[*]}) or run as root"
  fi
  log "compare.sh: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
  # Debian's packages start the distribution's own nginx/lighttpd/php-fpm where an init system
  # runs; they listen on port 80 or /run/php, are not ours to stop, and do not touch ours.
}

USHER_BUILT=0
build_usher() {
  if [ -n "$USHER_BIN" ]; then
    [ -x "$USHER_BIN" ] || die "--usher $USHER_BIN is not an executable"
    return
  fi
  command -v cargo >/dev/null 2>&1 || die "cargo not found: install Rust, or pass --usher PATH"
  log "compare.sh: cargo build --release"
  (cd "$REPO_DIR" && cargo build --release) >&2 || die "cargo build --release failed"
  USHER_BIN="${CARGO_TARGET_DIR:-$REPO_DIR/target}/release/usher"
  USHER_BUILT=1
  [ -x "$USHER_BIN" ] || die "no binary at $USHER_BIN after the build"
}

ensure_tools
if has_server usher; then
  build_usher
fi
PHP_FPM=""
if wants_fastcgi; then
  PHP_FPM=$(find_php_fpm)
  [ -n "$PHP_FPM" ] || die "php-fpm not found after installing it"
fi

# ---------------------------------------------------------------------------------------------
# Work dir, document root, cleanup.

WORK=$(mktemp -d "${TMPDIR:-/tmp}/usher-bench.XXXXXX")
chmod 755 "$WORK"
ROOT="$WORK/root"
RESULTS="$WORK/results.tsv"
ROWS_META="$WORK/rows.tsv"
FAILED=0
declare -A PID=()        # server -> PID of the process we started (master for nginx)
declare -A PORT=()       # server -> HTTP/1.1 port
declare -A H2_PORT=()    # server -> h2c port (nginx has a separate one)
FPM_PID=""               # php-fpm's master, while row l runs
FPM_SOCK="$WORK/run/php-fpm.sock"
UPSTREAM_PID=""          # the upstream nginx's master, while a server runs row m
UPSTREAM_PORT=""         # its port for the proxied requests
UPSTREAM_STATUS_PORT=""  # its stub_status port
UPSTREAM_BODY="$WORK/run/upstream.body"  # what it answers: exactly 1 KiB

# Servers run in their own session (setsid), so the PID we recorded is also their process
# group: lighttpd with workers signals its whole group on shutdown, which must not be ours.
stop_pid() {
  local pid="$1" i
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "compare.sh: PID $pid did not stop on SIGTERM within 5 s; SIGKILL to its group"
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

stop_all() {
  local s
  for s in "${!PID[@]}"; do
    stop_pid "${PID[$s]}"
    unset "PID[$s]"
  done
}

stop_fpm() {
  if [ -n "$FPM_PID" ]; then
    stop_pid "$FPM_PID"
    FPM_PID=""
  fi
}

stop_upstream() {
  if [ -n "$UPSTREAM_PID" ]; then
    stop_pid "$UPSTREAM_PID"
    UPSTREAM_PID=""
  fi
}

cleanup() {
  stop_all
  stop_fpm
  stop_upstream
  if [ "$KEEP" = 1 ]; then
    log "compare.sh: kept $WORK"
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

make_root() {
  local i
  mkdir -p "$ROOT/dir" "$WORK/run"
  cat >"$ROOT/index.html" <<'EOF'
<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>usher bench</title></head>
<body><p>Files: <a href="1k.bin">1k.bin</a>, <a href="100k.bin">100k.bin</a>,
<a href="100m.bin">100m.bin</a>, <a href="dir/">dir/</a>.</p></body></html>
EOF
  head -c 1024 /dev/urandom >"$ROOT/1k.bin"
  head -c 102400 /dev/urandom >"$ROOT/100k.bin"
  head -c 1048576 /dev/urandom >"$ROOT/1m.bin"
  head -c 104857600 /dev/urandom >"$ROOT/100m.bin"
  for ((i = 1; i <= 1000; i++)); do
    printf 'entry %d\n' "$i" >"$ROOT/dir/entry-$(printf '%04d' "$i").txt"
  done
  # Row o's page (bench/page.sh).
  row_o_page "$ROOT/page.html"
  # Row l's page: a few bytes that show PHP ran and saw the request.
  cat >"$ROOT/hello.php" <<'EOF'
<?php echo "hello ", $_SERVER['REQUEST_URI'];
EOF
  chmod -R a+rX "$ROOT"
  # Row m's upstream answer: 1 KiB of letters, digits, '-' and '_' (nothing nginx's quoted
  # string or the template filling would interpret), written into its config.
  printf '%.0sabcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_' {1..16} \
    >"$UPSTREAM_BODY"
}

# ---------------------------------------------------------------------------------------------
# Cores. One-core section: server on core 0, load generator on core 1. Scaling section: server
# on every core, the load generator still on its one core (so on a 2-core machine they share it).
# Row l: php-fpm on the server's core by default (--fpm-cpus changes it), so the server and the
# application it feeds share one core and a server that spends less per request leaves more of
# it to PHP; the load generator keeps its own core.
# Row m: the upstream nginx on the server's core too by default (--upstream-cpus changes it),
# for the same reason: the two halves of each request share that core.

NCPU=$(nproc)
if [ "$NCPU" -ge 2 ]; then
  CLIENT_CPU=1
  ONE_CORE_SERVER_CPUS=0
  ALL_CORES_SERVER_CPUS="0-$((NCPU - 1))"
  FPM_CPUS="${FPM_CPUS:-$ONE_CORE_SERVER_CPUS}"
  UPSTREAM_CPUS="${UPSTREAM_CPUS:-$ONE_CORE_SERVER_CPUS}"
else
  log "compare.sh: only one core: nothing is pinned, and the numbers mean little"
  CLIENT_CPU=""
  FPM_CPUS=""
  UPSTREAM_CPUS=""
fi

client() {
  if [ -n "$CLIENT_CPU" ]; then
    taskset -c "$CLIENT_CPU" "$@"
  else
    "$@"
  fi
}

# Raise the open-file limit for the servers and the 1000 idle connections of row g.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# ---------------------------------------------------------------------------------------------
# Servers. SECTION is "one" (one core, one worker) or "all" (every core). MODE is "static" (rows
# a-j and n: the configs above), "fastcgi" (row l: each server's own config that sends .php to
# php-fpm) or "proxy" (row m: each server's own config that proxies every request to the
# upstream nginx); rows l and m start the servers afresh, so rows a-j and n run exactly as without
# them.

SECTION=one
MODE=static

server_pin() {
  if [ -z "$CLIENT_CPU" ]; then
    return
  fi
  if [ "$SECTION" = one ]; then
    printf '%s\n' taskset -c "$ONE_CORE_SERVER_CPUS"
  else
    printf '%s\n' taskset -c "$ALL_CORES_SERVER_CPUS"
  fi
}

USHER_HAS_WORKERS=0
if has_server usher && "$USHER_BIN" serve --help 2>/dev/null | grep -q -- '--workers'; then
  USHER_HAS_WORKERS=1
fi

# Fill a template's placeholders: fill TEMPLATE OUT NAME=VALUE...
fill() {
  local template="$1" out="$2" pair
  local -a expr=()
  shift 2
  for pair in "$@"; do
    expr+=(-e "s|@${pair%%=*}@|${pair#*=}|g")
  done
  sed "${expr[@]}" "$BENCH_DIR/$template" >"$out"
}

start_usher() {
  local port="$1" log_file="$WORK/run/usher-$SECTION.log" conf="$WORK/run/usher-fastcgi.toml"
  local -a cmd pin
  mapfile -t pin < <(server_pin)
  if [ "$SECTION" = one ]; then
    cmd=(env RUST_LOG=usher=warn TOKIO_WORKER_THREADS=1)
  else
    cmd=(env -u TOKIO_WORKER_THREADS RUST_LOG=usher=warn)
  fi
  if [ "$MODE" = fastcgi ]; then
    log_file="$WORK/run/usher-fastcgi.log"
    fill usher-fastcgi.toml.in "$conf" "ROOT=$ROOT" "SOCKET=$FPM_SOCK" "CONNS=$FPM_CHILDREN"
    cmd+=("${pin[@]}" "$USHER_BIN" run -c "$conf" --listen "127.0.0.1:$port")
  elif [ "$MODE" = compress ]; then
    cmd+=("${pin[@]}" "$USHER_BIN" serve "$ROOT" --listen "127.0.0.1:$port" --compress)
  elif [ "$MODE" = proxy ]; then
    log_file="$WORK/run/usher-proxy.log"
    conf="$WORK/run/usher-proxy.toml"
    fill usher-proxy.toml.in "$conf" "UPSTREAM_PORT=$UPSTREAM_PORT"
    cmd+=("${pin[@]}" "$USHER_BIN" run -c "$conf" --listen "127.0.0.1:$port")
  else
    cmd+=("${pin[@]}" "$USHER_BIN" serve "$ROOT" --listen "127.0.0.1:$port")
  fi
  if [ "$USHER_HAS_WORKERS" = 1 ]; then
    if [ "$SECTION" = one ]; then cmd+=(--workers 1); else cmd+=(--workers "$NCPU"); fi
  fi
  setsid "${cmd[@]}" >>"$log_file" 2>&1 &
  PID[usher]=$!
  PORT[usher]=$port
  H2_PORT[usher]=$port
}

start_nginx() {
  local port="$1" h2_port="$2" conf="$WORK/run/nginx-$SECTION.conf" workers=1 user_line=""
  local -a pin
  mapfile -t pin < <(server_pin)
  [ "$SECTION" = one ] || workers=auto
  [ "$(id -u)" != 0 ] || user_line="user root;"
  mkdir -p "$WORK/run/nginx-temp"
  if [ "$MODE" = fastcgi ]; then
    conf="$WORK/run/nginx-fastcgi.conf"
    fill nginx-fastcgi.conf.in "$conf" "USER_LINE=$user_line" "WORKERS=$workers" \
      "RUN=$WORK/run" "PORT=$port" "ROOT=$ROOT" "SOCKET=$FPM_SOCK"
  elif [ "$MODE" = proxy ]; then
    conf="$WORK/run/nginx-proxy.conf"
    fill nginx-proxy.conf.in "$conf" "USER_LINE=$user_line" "WORKERS=$workers" \
      "RUN=$WORK/run" "PORT=$port" "UPSTREAM_PORT=$UPSTREAM_PORT"
  else
    # Row o: gzip on the fly at usher's level (5), for the page's type.
    local compress=""
    [ "$MODE" != compress ] \
      || compress="gzip on; gzip_types text/html; gzip_comp_level 5; gzip_min_length 512; gzip_vary on;"
    fill nginx.conf.in "$conf" "USER_LINE=$user_line" "WORKERS=$workers" "RUN=$WORK/run" \
      "PORT=$port" "H2_PORT=$h2_port" "ROOT=$ROOT" "COMPRESS=$compress"
  fi
  setsid "${pin[@]}" nginx -c "$conf" -p "$WORK/run" -g 'daemon off;' >>"$WORK/run/nginx.out" 2>&1 &
  PID[nginx]=$!
  PORT[nginx]=$port
  H2_PORT[nginx]=$h2_port
}

start_lighttpd() {
  local port="$1" conf="$WORK/run/lighttpd-$SECTION.conf" workers=0
  local -a pin
  mapfile -t pin < <(server_pin)
  [ "$SECTION" = one ] || workers="$NCPU"
  if [ "$MODE" = fastcgi ]; then
    conf="$WORK/run/lighttpd-fastcgi.conf"
    fill lighttpd-fastcgi.conf.in "$conf" "WORKERS=$workers" "RUN=$WORK/run" "PORT=$port" \
      "ROOT=$ROOT" "SOCKET=$FPM_SOCK"
  elif [ "$MODE" = proxy ]; then
    conf="$WORK/run/lighttpd-proxy.conf"
    fill lighttpd-proxy.conf.in "$conf" "WORKERS=$workers" "RUN=$WORK/run" "PORT=$port" \
      "ROOT=$ROOT" "UPSTREAM_PORT=$UPSTREAM_PORT"
  else
    fill lighttpd.conf.in "$conf" "WORKERS=$workers" "RUN=$WORK/run" "PORT=$port" \
      "ROOT=$ROOT"
    if [ "$MODE" = compress ]; then
      # Row o: mod_deflate, gzip at usher's level (5), with its cache of compressed static
      # files (lighttpd's own way to compress a file once, as usher keeps a cached page's).
      mkdir -p "$WORK/run/deflate-cache"
      printf '%s\n' 'server.modules += ("mod_deflate")' \
        'deflate.mimetypes = ("text/html")' 'deflate.allowed-encodings = ("gzip")' \
        'deflate.compression-level = 5' "deflate.cache-dir = \"$WORK/run/deflate-cache\"" \
        >>"$conf"
    fi
  fi
  setsid "${pin[@]}" lighttpd -D -f "$conf" >>"$WORK/run/lighttpd.out" 2>&1 &
  PID[lighttpd]=$!
  PORT[lighttpd]=$port
  H2_PORT[lighttpd]=$port
}

# php-fpm for row l: one master with FPM_CHILDREN static children on FPM_CPUS, its own pool
# config and socket in the temp dir; in its own session like the servers. Ready once the socket
# exists (connections made before the children accept wait in the listen queue).
start_fpm() {
  local conf="$WORK/run/php-fpm.conf" i
  local -a cmd=()
  [ -z "$FPM_CPUS" ] || cmd=(taskset -c "$FPM_CPUS")
  cmd+=("$PHP_FPM" -F -y "$conf")
  # As root php-fpm wants a user for its children, or -R to run them as root.
  [ "$(id -u)" != 0 ] || cmd+=(-R)
  rm -f "$FPM_SOCK"
  fill php-fpm.conf.in "$conf" "RUN=$WORK/run" "SOCKET=$FPM_SOCK" "CHILDREN=$FPM_CHILDREN"
  setsid "${cmd[@]}" >>"$WORK/run/php-fpm.out" 2>&1 &
  FPM_PID=$!
  for ((i = 0; i < 200; i++)); do
    if ! kill -0 "$FPM_PID" 2>/dev/null; then
      log "compare.sh: php-fpm exited during startup"
      return 1
    fi
    if [ -S "$FPM_SOCK" ]; then
      return
    fi
    sleep 0.05
  done
  log "compare.sh: php-fpm made no socket at $FPM_SOCK within 10 s"
  return 1
}

# Connections waiting in php-fpm's listen queue (accepted by the kernel, not by a child).
fpm_queue() {
  ss -Hxl src "$FPM_SOCK" | awk '{print $3; exit}'
}

# The upstream nginx of row m: one worker on UPSTREAM_CPUS answering UPSTREAM_BODY on a free
# port, stub_status on another; in its own session like the servers, started afresh for each
# server's run. Ready once its status page answers.
start_upstream() {
  local conf="$WORK/run/nginx-upstream.conf" user_line="" i
  local -a ports cmd=()
  mapfile -t ports < <(python3 "$HELPERS" ports 2)
  [ ${#ports[@]} -eq 2 ] || die "could not pick free ports"
  UPSTREAM_PORT=${ports[0]}
  UPSTREAM_STATUS_PORT=${ports[1]}
  [ "$(id -u)" != 0 ] || user_line="user root;"
  mkdir -p "$WORK/run/nginx-upstream-temp"
  fill nginx-upstream.conf.in "$conf" "USER_LINE=$user_line" "RUN=$WORK/run" \
    "PORT=$UPSTREAM_PORT" "STATUS_PORT=$UPSTREAM_STATUS_PORT" "BODY=$(cat "$UPSTREAM_BODY")"
  [ -z "$UPSTREAM_CPUS" ] || cmd=(taskset -c "$UPSTREAM_CPUS")
  setsid "${cmd[@]}" nginx -c "$conf" -p "$WORK/run" -g 'daemon off;' \
    >>"$WORK/run/nginx-upstream.out" 2>&1 &
  UPSTREAM_PID=$!
  for ((i = 0; i < 200; i++)); do
    if ! kill -0 "$UPSTREAM_PID" 2>/dev/null; then
      log "compare.sh: the upstream nginx exited during startup"
      return 1
    fi
    if upstream_counts >/dev/null 2>&1; then
      return
    fi
    sleep 0.05
  done
  log "compare.sh: the upstream nginx did not answer on 127.0.0.1:$UPSTREAM_STATUS_PORT within 10 s"
  return 1
}

# The upstream's counters since it started, from stub_status: "ACCEPTED HANDLED REQUESTS"
# (connections accepted and handled, requests read), each counting the status query itself.
upstream_counts() {
  local out
  out=$(curl -sS --max-time 5 "http://127.0.0.1:$UPSTREAM_STATUS_PORT/status") || return 1
  awk 'NR == 3 && NF == 3 {print $1, $2, $3; found = 1} END {exit !found}' <<<"$out"
}

# The server must lead its own process group (setsid did not fork), so that stop_pid's
# fallback signals only the server's group.
own_group() {
  local s="$1" stat
  stat=$(cat "/proc/${PID[$s]}/stat" 2>/dev/null || true)
  read -r -a stat <<<"${stat##*) }"
  if [ "${stat[2]:-}" != "${PID[$s]}" ]; then
    log "compare.sh: $s (PID ${PID[$s]}) is not in its own process group"
    return 1
  fi
}

# Poll until the server answers HTTP (any status), at most 200 times 50 ms.
wait_ready() {
  local s="$1" i rc
  for ((i = 0; i < 200; i++)); do
    if ! kill -0 "${PID[$s]}" 2>/dev/null; then
      log "compare.sh: $s exited during startup"
      return 1
    fi
    # Ready once the port accepts: curl exits 7 (refused) or 28 (time-out) before that. A
    # server that accepts but answers badly is left to the rows' checks, which say how.
    rc=0
    curl -s -o /dev/null --max-time 1 "http://127.0.0.1:${PORT[$s]}/" || rc=$?
    if [ "$rc" != 7 ] && [ "$rc" != 28 ]; then
      own_group "$s"
      return
    fi
    sleep 0.05
  done
  log "compare.sh: $s did not answer on 127.0.0.1:${PORT[$s]} within 10 s"
  return 1
}

show_logs() {
  local f
  for f in "$WORK"/run/*.log "$WORK"/run/*.out; do
    [ -s "$f" ] || continue
    log "--- $f (last lines)"
    tail -n 5 "$f" >&2
  done
}

# Start every server of this round; returns 1 if any failed (it is left out of the round).
declare -A UP=()
start_servers() {
  start_some "${SERVER_LIST[@]}"
}

# Start one server (row m runs them one at a time); returns 1 if it failed.
start_server() {
  start_some "$1"
}

start_some() {
  local -a ports
  local s ok=0
  mapfile -t ports < <(python3 "$HELPERS" ports 4)
  [ ${#ports[@]} -eq 4 ] || die "could not pick free ports"
  for s in "$@"; do
    case "$s" in
      usher) start_usher "${ports[0]}" ;;
      nginx) start_nginx "${ports[1]}" "${ports[2]}" ;;
      lighttpd) start_lighttpd "${ports[3]}" ;;
    esac
  done
  for s in "$@"; do
    if wait_ready "$s"; then
      UP[$s]=1
    else
      UP[$s]=0
      ok=1
      FAILED=1
      show_logs
    fi
  done
  return "$ok"
}

# ---------------------------------------------------------------------------------------------
# CPU time of a server: utime+stime of the process and its children (nginx workers, lighttpd
# workers), in clock ticks. /proc/PID/stat counts every thread of the process, live or ended.

CLK_TCK=$(getconf CLK_TCK)

proc_ticks() {
  local stat rest
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
  rest=${stat##*) }
  local -a f
  read -r -a f <<<"$rest"
  echo $((f[11] + f[12]))
}

server_ticks() {
  local pid="$1" total kid
  total=$(proc_ticks "$pid")
  for kid in $(ps -o pid= --ppid "$pid" 2>/dev/null || true); do
    total=$((total + $(proc_ticks "$kid")))
  done
  echo "$total"
}

# The load generator's CPU time so far, in µs: user+system of every child this shell (or
# subshell) has waited for, and their children (bash's `times`, getrusage(RUSAGE_CHILDREN)).
# Over loopback the sender's kernel also does the receiver's TCP work, and which core sends a
# segment (the server's, in its own write, or the client's, when its ACK releases queued data)
# depends on timing; so a row also records the load generator's CPU, and the report adds the
# two: the whole cost of a request, however it was split.
# `times` must run in this shell, not in a pipe's or a $(...)'s subshell (whose children are
# its own, none yet); so it writes to a file, and callers read the variable CHILDREN_US.
children_us() {
  times >"$WORK/run/times.out"
  CHILDREN_US=$(awk 'NR == 2 {
    t = 0
    for (i = 1; i <= 2; i++) { split($i, p, "m"); sub("s", "", p[2]); t += p[1] * 60 + p[2] }
    printf "%.0f", t * 1e6
  }' "$WORK/run/times.out")
}

# Record the load generator's CPU per unit of work for run_row: client_cost START_US END_US
# UNITS. The two readings bracket the load generator alone: `server_ticks` runs `ps` in a
# subshell, whose CPU would count as the client's too.
client_cost() {
  awk -v d=$(($2 - $1)) -v n="$3" 'BEGIN{printf "%.2f\n", d / n}' >"$WORK/run/client.cpu"
}

# A backend's CPU time in nanoseconds (php-fpm in row l, the upstream nginx in row m): the
# process and every child, from /proc/PID/schedstat (the scheduler's own sum, exact; children
# are single-threaded). Clock ticks would not do for php-fpm: each of the many children runs a
# few ms per run, and each one's count is rounded down to 10 ms. Without schedstat (a kernel
# without CONFIG_SCHED_INFO), ticks it is.
tree_ns() {
  local root="$1" total=0 p ns
  for p in "$root" $(ps -o pid= --ppid "$root" 2>/dev/null || true); do
    if [ -r "/proc/$p/schedstat" ]; then
      read -r ns _ 2>/dev/null <"/proc/$p/schedstat" || ns=0
    else
      ns=$(($(proc_ticks "$p") * 1000000000 / CLK_TCK))
    fi
    total=$((total + ns))
  done
  echo "$total"
}

fpm_ns() { tree_ns "$FPM_PID"; }

# ---------------------------------------------------------------------------------------------
# Rows. Each row function prints "VALUE CPU [BACKEND_CPU [NOTE...]]" (CPU "-" when not measured;
# the backend's in rows l (php-fpm) and m (the upstream nginx) only; a note for the report in
# rows d and m) on success, or a reason on stderr and returns 1.

describe_rows() {
  {
    printf 'a\t1 KiB file, keep-alive, 64 conns (wrk)\treq/s\thigher\tµs/req\n'
    printf 'b\t1 KiB file, keep-alive, 256 conns (wrk)\treq/s\thigher\tµs/req\n'
    printf 'c\t100 KiB file, keep-alive, 64 conns (wrk)\treq/s\thigher\tµs/req\n'
    printf 'd\t100 MiB download, curl, %d per round\tGB/s\thigher\tµs/MiB\n' "$DOWNLOADS"
    printf 'e\t1 KiB, new connection per request, 64 conns (wrk)\treq/s\thigher\tµs/req\n'
    printf 'f\th2c, h2load -c64 -m10\treq/s\thigher\tµs/req\n'
    printf 'g\tRSS added by %d idle keep-alive conns\tMiB\tlower\t-\n' "$IDLE_CONNS"
    printf 'h\tlisting of a 1000-entry directory, 64 conns (wrk)\treq/s\thigher\tµs/req\n'
    printf 'i\t1 KiB, pipelined depth %d, 64 conns (wrk)\treq/s\thigher\tµs/req\n' "$PIPELINE_DEPTH"
    printf 'j\t404 with a negotiated problem body, 64 conns (wrk)\treq/s\thigher\tµs/req\n'
    printf 'n\t1 MiB file, keep-alive, 64 conns (wrk)\treq/s\thigher\tµs/req\n'
    printf 'l\tPHP page through php-fpm (FastCGI), %d conns (wrk)\treq/s\thigher\tµs/req\n' "$FCGI_CONNS"
    printf 'm\treverse proxy to an upstream nginx, 1 KiB, %d conns (wrk)\treq/s\thigher\tµs/req\n' "$PROXY_CONNS"
    printf 'o\t100 KiB page, gzip on the fly, 64 conns (wrk)\treq/s\thigher\tµs/req\n'
  } >"$ROWS_META"
}

# Check one answer before loading a server with it: STATUS, and the body size or a string the
# body must contain (WANT, may be empty). Further arguments go to curl.
precheck() {
  local s="$1" path="$2" want_status="$3" want="$4" out code size
  local url="http://127.0.0.1:${PORT[$s]}$path" body="$WORK/run/precheck.body"
  shift 4
  out=$(curl -sS -o "$body" -w '%{http_code} %{size_download}' --max-time 10 "$@" "$url" 2>&1) \
    || { echo "GET $path: $out"; return 1; }
  read -r code size <<<"$out"
  if [ "$code" != "$want_status" ]; then
    echo "GET $path answered $code, not $want_status"
    return 1
  fi
  if [[ "$want" =~ ^[0-9]+$ ]] && [ "$size" != "$want" ]; then
    echo "GET $path gave $size bytes, not $want"
    return 1
  fi
  if [ -n "$want" ] && ! [[ "$want" =~ ^[0-9]+$ ]] && ! grep -q -- "$want" "$body"; then
    echo "GET $path: the body lacks $want"
    return 1
  fi
}

# Run wrk; print "RATE CPU" or a reason. Extra arguments go to wrk before the URL.
run_wrk() {
  local s="$1" conns="$2" path="$3" expect="$4" out="$WORK/run/wrk.out"
  shift 4
  local t0 t1 c0 c1 reqs rate non2xx errs
  local -a script_args=()
  if [ -n "${PIPELINE:-}" ]; then
    script_args=(-- "$PIPELINE_DEPTH")
  fi
  t0=$(server_ticks "${PID[$s]}")
  children_us
  c0=$CHILDREN_US
  if ! client wrk -t1 -c "$conns" -d "${DURATION}s" "$@" "http://127.0.0.1:${PORT[$s]}$path" \
      "${script_args[@]}" >"$out" 2>&1; then
    echo "wrk failed: $(tail -n 1 "$out")"
    return 1
  fi
  children_us
  c1=$CHILDREN_US
  t1=$(server_ticks "${PID[$s]}")
  reqs=$(awk '/ requests in /{print $1}' "$out")
  rate=$(awk '/^Requests\/sec:/{print $2}' "$out")
  non2xx=$(awk -F': *' '/Non-2xx or 3xx responses/{print $2}' "$out")
  errs=$(awk '/Socket errors:/{gsub(",", ""); print $4 + $6 + $8 + $10}' "$out")
  non2xx=${non2xx:-0}
  errs=${errs:-0}
  if [ -z "$reqs" ] || [ -z "$rate" ] || [ "$reqs" = 0 ]; then
    echo "wrk gave no numbers: $(tr '\n' ' ' <"$out" | cut -c1-200)"
    return 1
  fi
  if [ "$expect" = 2xx ] && [ "$non2xx" != 0 ]; then
    echo "$non2xx of $reqs answers were not 2xx/3xx"
    return 1
  fi
  if [ "$expect" = 404 ] && [ "$non2xx" != "$reqs" ]; then
    echo "only $non2xx of $reqs answers were errors (expected all 404)"
    return 1
  fi
  if [ $((errs * 100)) -gt "$reqs" ]; then
    echo "$errs socket errors for $reqs requests: $(grep 'Socket errors' "$out")"
    return 1
  fi
  client_cost "$c0" "$c1" "$reqs"
  echo "$rate $(awk -v d=$((t1 - t0)) -v n="$reqs" -v hz="$CLK_TCK" 'BEGIN{printf "%.2f", d * 1e6 / hz / n}')"
}

row_a() { precheck "$1" /1k.bin 200 1024 && run_wrk "$1" 64 /1k.bin 2xx; }
row_b() { precheck "$1" /1k.bin 200 1024 && run_wrk "$1" 256 /1k.bin 2xx; }
row_c() { precheck "$1" /100k.bin 200 102400 && run_wrk "$1" 64 /100k.bin 2xx; }
# Row o: the page as gzip (checked: the coding named, the page whole once decoded).
row_o() {
  local coding
  coding=$(curl -sS -o /dev/null -w '%header{content-encoding}' -H 'Accept-Encoding: gzip' \
    "http://127.0.0.1:${PORT[$1]}/page.html" 2>&1) || true
  if [ "$coding" != gzip ]; then
    echo "GET /page.html with Accept-Encoding: gzip came as '${coding}', not gzip"
    return 1
  fi
  precheck "$1" /page.html 200 "row 2000 " --compressed \
    && run_wrk "$1" 64 /page.html 2xx -H 'Accept-Encoding: gzip'
}
row_n() { precheck "$1" /1m.bin 200 1048576 && run_wrk "$1" 64 /1m.bin 2xx; }
row_e() { precheck "$1" /1k.bin 200 1024 && run_wrk "$1" 64 /1k.bin 2xx -H 'Connection: close'; }
row_h() { precheck "$1" /dir/ 200 entry-1000.txt && run_wrk "$1" 64 /dir/ 2xx; }
row_i() {
  precheck "$1" /1k.bin 200 1024 || return 1
  PIPELINE=1 run_wrk "$1" 64 /1k.bin 2xx -s "$BENCH_DIR/pipeline.lua"
}
row_j() {
  local s="$1" ctype
  precheck "$s" /no/such/file.txt 404 "" -H 'Accept: application/problem+json' || return 1
  if [ "$s" = usher ]; then
    ctype=$(curl -s -o /dev/null -w '%{content_type}' -H 'Accept: application/problem+json' \
      "http://127.0.0.1:${PORT[$s]}/no/such/file.txt")
    if [[ "$ctype" != application/problem+json* ]]; then
      echo "the 404 came as '$ctype', not application/problem+json"
      return 1
    fi
  fi
  run_wrk "$s" 64 /no/such/file.txt 404 -H 'Accept: application/problem+json'
}

# Row l: the PHP page through php-fpm. Its answer must be exactly what PHP prints; after the
# run no connection may be left waiting in php-fpm's listen queue (a server that held more
# connections than php-fpm has children would leave requests there that no child takes, and
# wrk counts only the answers it got). Prints the rate, the server's CPU per request and
# php-fpm's (master and children).
row_l() {
  local s="$1" f0 f1 out reqs queued i want="hello /hello.php"
  precheck "$s" /hello.php 200 "$want" || return 1
  if [ "$(cat "$WORK/run/precheck.body")" != "$want" ]; then
    echo "GET /hello.php gave '$(head -c 200 "$WORK/run/precheck.body")', not '$want'"
    return 1
  fi
  f0=$(fpm_ns)
  out=$(run_wrk "$s" "$FCGI_CONNS" /hello.php 2xx) || { echo "$out"; return 1; }
  f1=$(fpm_ns)
  reqs=$(awk '/ requests in /{print $1}' "$WORK/run/wrk.out")
  # Requests in flight when wrk stopped reach a child within milliseconds; poll up to 2 s.
  for ((i = 0; i < 40; i++)); do
    queued=$(fpm_queue)
    [ "${queued:-0}" != 0 ] || break
    sleep 0.05
  done
  if [ "${queued:-0}" != 0 ]; then
    echo "$queued connections still wait in php-fpm's listen queue 2 s after the run: the server held more connections than php-fpm's $FPM_CHILDREN children"
    return 1
  fi
  echo "$out $(awk -v d=$((f1 - f0)) -v n="$reqs" 'BEGIN{printf "%.2f", d / 1e3 / n}')"
}

# Row m: 1 KiB from the upstream nginx through the server. The answer must be the upstream's
# body, byte for byte. The upstream's counters, read before and after the run, say how many
# connections the server opened to it and how many requests it passed on: fewer requests than
# wrk got answers means some answers did not come from the upstream. Prints the rate, the
# server's CPU per request, the upstream's, and a note with the connections per request.
row_m() {
  local s="$1" counts a0 h0 r0 a1 h1 r1 u0 u1 out reqs conns passed
  precheck "$s" / 200 1024 || return 1
  if ! cmp -s "$WORK/run/precheck.body" "$UPSTREAM_BODY"; then
    echo "GET / gave 1024 bytes that are not the upstream's body"
    return 1
  fi
  counts=$(upstream_counts) || { echo "the upstream's stub_status did not answer"; return 1; }
  read -r a0 h0 r0 <<<"$counts"
  u0=$(tree_ns "$UPSTREAM_PID")
  out=$(run_wrk "$s" "$PROXY_CONNS" / 2xx) || { echo "$out"; return 1; }
  u1=$(tree_ns "$UPSTREAM_PID")
  counts=$(upstream_counts) || { echo "the upstream's stub_status did not answer after the run"; return 1; }
  read -r a1 h1 r1 <<<"$counts"
  reqs=$(awk '/ requests in /{print $1}' "$WORK/run/wrk.out")
  # Less the second status query's own connection and request.
  conns=$((a1 - a0 - 1))
  passed=$((r1 - r0 - 1))
  if [ "$passed" -lt "$reqs" ]; then
    echo "the upstream got $passed requests for the $reqs answers wrk counted"
    return 1
  fi
  if [ $((h1 - h0)) != $((a1 - a0)) ]; then
    echo "the upstream dropped $((a1 - a0 - h1 + h0)) connections (worker_connections reached)"
    return 1
  fi
  echo "$out $(awk -v d=$((u1 - u0)) -v n="$reqs" 'BEGIN{printf "%.2f", d / 1e3 / n}')" \
    "upstream: $conns connections accepted for $passed requests," \
    "$(awk -v c="$conns" -v n="$passed" 'BEGIN{printf "%.3g", c / n}') per request"
}

# The counts of one kind of softirq on the server's core and on the client's, "SERVER CLIENT",
# from /proc/softirqs ("HRTIMER:  n0  n1 ..."; a CPU's count is field CPU + 2).
softirqs_on_cores() {
  awk -v kind="$1:" -v server="$ONE_CORE_SERVER_CPUS" -v client="$CLIENT_CPU" \
    '$1 == kind {print $(server + 2), $(client + 2)}' /proc/softirqs
}

# Which core ran a download's kernel work, as a note for row d (one-core section only): the
# server core's share of the pacing timers (BBR paces each segment with a timer, which runs on
# the core that armed it) and of the receive softirqs (over loopback the core that sends a
# segment also delivers it). The rest ran on curl's core, which is the limit of this row: the
# more of the transfer the server's core runs, the faster curl goes and the more CPU per MiB
# the server shows, so the row's rate and server CPU trade against each other (README).
softirq_split() {
  awk -v h0="$1" -v h1="$2" -v r0="$3" -v r1="$4" 'BEGIN {
    split(h0, a, " "); split(h1, b, " "); split(r0, c, " "); split(r1, d, " ")
    ht = (b[1] - a[1]) + (b[2] - a[2]); rt = (d[1] - c[1]) + (d[2] - c[2])
    if (ht > 0 && rt > 0)
      printf "server core ran %.0f%% of the pacing timers and %.0f%% of the receive softirqs\n",
        100 * (b[1] - a[1]) / ht, 100 * (d[1] - c[1]) / rt
  }'
}

row_d() {
  local s="$1" k t0 t1 c0 c1 out code size secs bytes=0 h0="" r0="" split=""
  local -a times=()
  precheck "$s" /1k.bin 200 1024 || return 1
  if [ "$SECTION" = one ] && [ -n "$CLIENT_CPU" ]; then
    h0=$(softirqs_on_cores HRTIMER)
    r0=$(softirqs_on_cores NET_RX)
  fi
  t0=$(server_ticks "${PID[$s]}")
  children_us
  c0=$CHILDREN_US
  for ((k = 0; k < DOWNLOADS; k++)); do
    out=$(client curl -s -o /dev/null --max-time 120 -w '%{http_code} %{size_download} %{time_total}' \
      "http://127.0.0.1:${PORT[$s]}/100m.bin") || { echo "curl failed on download $((k + 1))"; return 1; }
    read -r code size secs <<<"$out"
    if [ "$code" != 200 ] || [ "$size" != 104857600 ]; then
      echo "download $((k + 1)) answered $code with $size bytes"
      return 1
    fi
    bytes=$((bytes + size))
    times+=("$secs")
  done
  children_us
  c1=$CHILDREN_US
  t1=$(server_ticks "${PID[$s]}")
  client_cost "$c0" "$c1" $((bytes / 1048576))
  [ -z "$h0" ] || split=$(softirq_split "$h0" "$(softirqs_on_cores HRTIMER)" \
    "$r0" "$(softirqs_on_cores NET_RX)")
  awk -v b="$bytes" -v times="${times[*]}" -v d=$((t1 - t0)) -v hz="$CLK_TCK" -v note="$split" \
    'BEGIN{n = split(times, t, " "); for (i = 1; i <= n; i++) secs += t[i]
      printf "%.3f %.2f%s\n", b / secs / 1e9, d * 1e6 / hz / (b / 1048576),
        note == "" ? "" : " - " note}'
}

row_f() {
  local s="$1" t0 t1 c0 c1 out="$WORK/run/h2load.out" rate ok total twoxx bad bad_status code
  code=$(curl -sS -o /dev/null --http2-prior-knowledge --max-time 10 \
    -w '%{http_version} %{http_code}' "http://127.0.0.1:${H2_PORT[$s]}/1k.bin" 2>&1) \
    || { echo "h2c GET /1k.bin: $code"; return 1; }
  if [ "$code" != "2 200" ]; then
    echo "h2c GET /1k.bin answered HTTP/version+status '$code', not '2 200'"
    return 1
  fi
  t0=$(server_ticks "${PID[$s]}")
  children_us
  c0=$CHILDREN_US
  if ! client h2load -t1 -c64 -m10 -D "$DURATION" "http://127.0.0.1:${H2_PORT[$s]}/1k.bin" \
      >"$out" 2>&1; then
    echo "h2load failed: $(tail -n 1 "$out")"
    return 1
  fi
  children_us
  c1=$CHILDREN_US
  t1=$(server_ticks "${PID[$s]}")
  rate=$(awk '/^finished in/{print $4}' "$out")
  read -r total ok bad <<<"$(awk '/^requests:/{print $2, $8, $10 + $12 + $14}' "$out")"
  read -r twoxx bad_status <<<"$(awk '/^status codes:/{gsub(",", ""); print $3, $7 + $9}' "$out")"
  if [ -z "$rate" ] || [ -z "$ok" ] || [ "${ok:-0}" = 0 ]; then
    echo "h2load gave no numbers: $(tr '\n' ' ' <"$out" | cut -c1-300)"
    return 1
  fi
  # h2load counts the status of answers still in flight when the time is up, so 2xx may
  # exceed "succeeded"; what must hold is no 4xx or 5xx.
  if [ "${twoxx:-0}" = 0 ] || [ "${bad_status:-1}" != 0 ]; then
    echo "h2 answers: $(grep '^status codes' "$out")"
    return 1
  fi
  if [ $((bad * 100)) -gt "$total" ]; then
    echo "$bad of $total h2 requests failed, errored or timed out"
    return 1
  fi
  client_cost "$c0" "$c1" "$ok"
  echo "$rate $(awk -v d=$((t1 - t0)) -v n="$ok" -v hz="$CLK_TCK" 'BEGIN{printf "%.2f", d * 1e6 / hz / n}')"
}

row_g() {
  local s="$1" out added open
  precheck "$s" /1k.bin 200 1024 || return 1
  out=$(python3 "$HELPERS" idle --port "${PORT[$s]}" --path /1k.bin --conns "$IDLE_CONNS" \
    --pid "${PID[$s]}" 2>&1) || { echo "$out"; return 1; }
  read -r added open <<<"$out"
  if [ "$open" -lt "$IDLE_CONNS" ]; then
    echo "the server closed $((IDLE_CONNS - open)) of $IDLE_CONNS idle connections within a second"
    return 1
  fi
  awk -v k="$added" 'BEGIN{printf "%.2f -\n", k / 1024}'
}

# ---------------------------------------------------------------------------------------------
# Main loop.

record() { printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$RESULTS"; }

# Run one row against one server and record it: section, row, server, round, value, CPU,
# backend CPU, load generator CPU, ok or FAIL, note.
run_row() {
  local row="$1" s="$2" round="$3" out value cpu backend note client_cpu
  if [ "${UP[$s]}" != 1 ]; then
    record "$SECTION" "$row" "$s" "$round" - - - - FAIL "server not running"
    return
  fi
  rm -f "$WORK/run/client.cpu"
  if out=$("row_$row" "$s" 2>&1); then
    read -r value cpu backend note <<<"$out"
    client_cpu=$(cat "$WORK/run/client.cpu" 2>/dev/null || echo -)
    record "$SECTION" "$row" "$s" "$round" "$value" "$cpu" "${backend:--}" "$client_cpu" ok "${note:-}"
    log "   $row $s: $value (cpu $cpu${backend:+, backend cpu $backend})${note:+; $note}"
  else
    FAILED=1
    out=$(tr '\n' ' ' <<<"$out")
    record "$SECTION" "$row" "$s" "$round" - - - - FAIL "$out"
    log "   $row $s: FAIL $out"
  fi
  if ! kill -0 "${PID[$s]}" 2>/dev/null; then
    FAILED=1
    UP[$s]=0
    log "   $s exited during row $row"
    show_logs
    record "$SECTION" "$row" "$s" "$round" - - - - FAIL "server exited during this row"
  fi
}

run_section() {
  local round row s i n=${#SERVER_LIST[@]}
  local -a order
  for ((round = 1; round <= ROUNDS; round++)); do
    order=()
    for ((i = 0; i < n; i++)); do
      order+=("${SERVER_LIST[$(((i + round - 1) % n))]}")
    done
    log "== section $SECTION, round $round/$ROUNDS, order ${order[*]} (load average $(cut -d' ' -f1-3 /proc/loadavg))"
    if [[ "$ROWS" =~ [a-jn] ]]; then
      MODE=static
      start_servers || true
      # Row g first, on servers that have served nothing yet: after the other rows a server's
      # allocator may hand memory back while the idle connections are opened (usher's RSS
      # fell by 2.7 MiB in one such run), and the row would measure that instead.
      for row in g a b c d e f h i j n; do
        has_row "$row" || continue
        for s in "${order[@]}"; do
          run_row "$row" "$s" "$round"
        done
      done
      stop_all
    fi
    # Row l: one php-fpm for the round, every server started with its FastCGI config. Each
    # server is stopped as soon as its run is over: that closes the connections it kept alive,
    # on which php-fpm's children would otherwise wait instead of serving the next server.
    if [ "$SECTION" = one ] && has_row l; then
      MODE=fastcgi
      if start_fpm; then
        start_servers || true
        for s in "${order[@]}"; do
          run_row l "$s" "$round"
          stop_pid "${PID[$s]}"
          unset "PID[$s]"
        done
        stop_all
      else
        FAILED=1
        show_logs
        for s in "${order[@]}"; do
          record "$SECTION" l "$s" "$round" - - - - FAIL "php-fpm did not start"
        done
      fi
      stop_fpm
      MODE=static
    fi
    # Row o: every server started with compression on (the other rows' servers run without).
    if [ "$SECTION" = one ] && has_row o; then
      MODE=compress
      start_servers || true
      for s in "${order[@]}"; do
        run_row o "$s" "$round"
      done
      stop_all
      MODE=static
    fi
    # Row m: a fresh upstream nginx on a fresh port for each server, which is started with its
    # proxy config and stopped as soon as its run is over. A server that opened and closed
    # tens of thousands of connections to the upstream leaves as many in TIME_WAIT towards its
    # address, and the next server's connect() to the same address would search past them.
    if [ "$SECTION" = one ] && has_row m; then
      MODE=proxy
      for s in "${order[@]}"; do
        if start_upstream; then
          start_server "$s" || true
          run_row m "$s" "$round"
          stop_pid "${PID[$s]}"
          unset "PID[$s]"
        else
          FAILED=1
          show_logs
          record "$SECTION" m "$s" "$round" - - - - FAIL "the upstream nginx did not start"
        fi
        stop_upstream
      done
      MODE=static
    fi
  done
}

describe_rows
make_root
: >"$RESULTS"

echo "# usher vs nginx vs lighttpd, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "- machine: $NCPU cores, $(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo), $(uname -sr)"
if [ "$USHER_BUILT" = 1 ]; then
  usher_version="usher $(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null || echo '?')"
  if [ -n "$(git -C "$REPO_DIR" status --porcelain --untracked-files=no -- src Cargo.toml Cargo.lock 2>/dev/null)" ]; then
    usher_version+=" with uncommitted changes"
  fi
else
  usher_version="usher ${USHER_BIN:-not run}"
fi
echo "- servers: $usher_version, $(nginx -v 2>&1 | sed 's/.*: //'), $(lighttpd -v 2>&1 | cut -d' ' -f1)"
if has_server usher; then
  if [ "$USHER_HAS_WORKERS" = 1 ]; then
    echo "- usher: --workers 1 and TOKIO_WORKER_THREADS=1 (one core); --workers $NCPU (all cores)"
  else
    echo "- usher: TOKIO_WORKER_THREADS=1 (one core); its default threads (all cores); no --workers flag"
  fi
fi
echo "- load: wrk -t1 / h2load -t1 / curl on core ${CLIENT_CPU:-any}; $ROUNDS round(s) of ${DURATION} s per row"
if wants_fastcgi; then
  echo "- row l: $("$PHP_FPM" -v 2>/dev/null | head -n 1 | cut -d' ' -f1-3), pm static with $FPM_CHILDREN children on core ${FPM_CPUS:-any}, a Unix socket; one php-fpm per round"
fi
if wants_proxy; then
  echo "- row m: the upstream is a second nginx, one worker on core ${UPSTREAM_CPUS:-any}, answering 1 KiB from memory over HTTP/1.1 keep-alive; a fresh one for each server's run"
fi
echo "- load average at start: $(cut -d' ' -f1-3 /proc/loadavg) (a busy machine makes every number noisy; compare ratios)"

# "--rows k" alone means the scaling section for every row.
if [ "$ROWS" = k ]; then
  ROWS="a,b,c,d,e,f,g,h,i,j,k,n"
  ALL_CORES_ONLY=1
fi
if [ "$ALL_CORES_ONLY" = 0 ]; then
  SECTION=one
  run_section
fi
if [ "$ALL_CORES_ONLY" = 1 ] || has_row k; then
  SECTION=all
  run_section
fi

echo "- load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
# Panics a server logged (a Rust server that panics in a connection task keeps running, so
# only its log tells).
for f in "$WORK"/run/*.log "$WORK"/run/*.out; do
  [ -s "$f" ] || continue
  n=$(grep -c 'panicked at' "$f" || true)
  if [ "$n" != 0 ]; then
    FAILED=1
    echo "- $(basename "$f") logged $n panic(s); first: $(grep -m1 -A1 'panicked at' "$f" | tr '\n' ' ')"
  fi
  # Rows l and m: what the servers, php-fpm and the upstream nginx logged about the backend
  # (failed or cut requests, refused or timed-out connections): not a failure by itself, but a
  # reason to look.
  case "$(basename "$f")" in
    usher-fastcgi.log | nginx-fastcgi-error.log | lighttpd-fastcgi-error.log | php-fpm.log | \
      usher-proxy.log | nginx-proxy-error.log | lighttpd-proxy-error.log | nginx-upstream-error.log)
      n=$(grep -c -i -E 'warn|error|fail|timed out|refused|reset|busy|max_children' "$f" || true)
      if [ "$n" != 0 ]; then
        echo "- $(basename "$f") has $n warning or error line(s); first: $(grep -m1 -i -E 'warn|error|fail|timed out|refused|reset|busy|max_children' "$f" | cut -c1-200)"
      fi
      ;;
  esac
  # A server that writes a line per request pays for it in every row: the setup is unfair.
  if [ "$(stat -c %s "$f")" -gt 1048576 ]; then
    echo "- $(basename "$f") grew to $(($(stat -c %s "$f") / 1048576)) MiB: that server logged per request; first line: $(head -n 1 "$f" | cut -c1-200)"
  fi
done
python3 "$HELPERS" report "$RESULTS" "$ROWS_META"
if [ "$FAILED" != 0 ]; then
  log "compare.sh: some servers or rows failed (see Notes and failures above)"
  exit 1
fi
