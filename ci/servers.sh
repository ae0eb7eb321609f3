#!/usr/bin/env bash
# ci/servers.sh — start, stop and inspect the local servers that the
# server-backed (integration) tests talk to.
#
#   ./ci/servers.sh start    install what is missing, start every server (or reuse
#                            one already answering on its port), write the env file
#   ./ci/servers.sh stop     stop every server and remove the data directory
#   ./ci/servers.sh status   show which servers answer; exit 0 only if all do
#
# Servers (all bound to 127.0.0.1 only; data lives under $CACHEDHTTP_SERVERS_DIR,
# default /tmp/cachedhttp-servers):
#   - Redis, single node ............ port 6390 (no persistence)
#   - Redis Cluster, 3 masters ...... ports 7101 7102 7103 (no replicas)
#   - dynalite (DynamoDB emulator) .. port 4567 (in memory), from .ci/node/
#
# `start` writes the variables the tests read to $CACHEDHTTP_SERVERS_DIR/env as
# plain KEY=value lines (load with `set -a; . "$dir/env"; set +a`) and prints
# them on stdout; progress and errors go to stderr:
#   CACHEDHTTP_REDIS=127.0.0.1:6390
#   CACHEDHTTP_REDIS_CLUSTER=127.0.0.1:7101,127.0.0.1:7102,127.0.0.1:7103
#   CACHEDHTTP_DYNAMODB_URL=http://127.0.0.1:4567
#   CACHEDHTTP_REDIS_SERVER_BIN=/path/to/redis-server   (lets tests stop/restart a server)
# A variable is only written when its server actually answers, so tests that
# need a missing server can report themselves as Ignored.
#
# If a server cannot be started, `start` still starts the others, then exits
# non-zero after printing one line per failure ("servers.sh: FAILED: <reason>").
#
# Installs on demand: redis-server with apt-get (root only) when it is not on
# PATH, and dynalite with npm (`npm ci` from .ci/node/package-lock.json).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SELF="$ROOT/ci/servers.sh"
SERVERS_DIR="${CACHEDHTTP_SERVERS_DIR:-/tmp/cachedhttp-servers}"
ENV_FILE="$SERVERS_DIR/env"
LOCK_FILE="${SERVERS_DIR%/}.lock"   # outside the data dir, which `stop` deletes
NODE_DIR="$ROOT/.ci/node"

HOST=127.0.0.1
REDIS_PORT=6390
CLUSTER_PORTS=(7101 7102 7103)
DYNALITE_PORT=4567
WAIT_SECONDS=30          # how long to wait for a server to come up
# dynalite keeps new/deleted/updated tables in CREATING/DELETING/UPDATING for
# 500 ms by default; 0 makes table setup in tests fast.
DYNALITE_TABLE_MS=0

log() { echo "servers.sh: $*" >&2; }
# die REASON: one clear line on stderr, then exit 1.
die() { echo "servers.sh: FAILED: $*" >&2; exit 1; }

# wait_until SECONDS CMD...: retry CMD every 0.2 s until it succeeds or time runs out.
wait_until() {
  local secs=$1; shift
  local deadline=$((SECONDS + secs))
  until "$@"; do
    if ((SECONDS >= deadline)); then return 1; fi
    sleep 0.2
  done
}

# port_open PORT: true when something accepts TCP connections on $HOST:PORT.
port_open() {
  (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null
}

# redis_ping PORT: true when a Redis answers PONG on PORT.
redis_ping() {
  command -v redis-cli >/dev/null 2>&1 || return 1
  local out
  out="$(timeout 5 redis-cli -h "$HOST" -p "$1" ping 2>/dev/null || true)"
  [[ "$out" == PONG* ]]
}

# cluster_ok PORT: true when the node on PORT reports cluster_state:ok.
cluster_ok() {
  command -v redis-cli >/dev/null 2>&1 || return 1
  local out
  out="$(timeout 5 redis-cli -h "$HOST" -p "$1" cluster info 2>/dev/null || true)"
  grep -q '^cluster_state:ok' <<<"${out//$'\r'/}"
}

cluster_all_ok() {
  local p
  for p in "${CLUSTER_PORTS[@]}"; do cluster_ok "$p" || return 1; done
}

dynalite_up() { port_open "$DYNALITE_PORT"; }

# pid_matches PIDFILE PATTERN: print the pid from PIDFILE when that process is
# alive and its command line contains PATTERN (guards against reused pids).
pid_matches() {
  local pidfile=$1 pattern=$2 pid cmdline
  [[ -f "$pidfile" ]] || return 1
  pid="$(tr -dc '0-9' <"$pidfile")"
  [[ -n "$pid" && -r "/proc/$pid/cmdline" ]] || return 1
  cmdline="$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" || true)"
  [[ "$cmdline" == *"$pattern"* ]] || return 1
  echo "$pid"
}

# kill_and_wait PID: SIGTERM, wait up to 10 s, then SIGKILL.
kill_and_wait() {
  local pid=$1
  kill "$pid" 2>/dev/null || return 0
  wait_until 10 eval "! kill -0 $pid 2>/dev/null" || kill -9 "$pid" 2>/dev/null || true
}

# ---------------------------------------------------------------- installs --

ensure_redis_installed() {
  if command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1; then
    return 0
  fi
  if [[ "$(id -u)" -ne 0 ]]; then
    die "redis-server is not on PATH and this is not root, so it cannot be installed here: run 'sudo apt-get install -y redis-server' (or put redis-server and redis-cli on PATH) and retry"
  fi
  log "installing redis-server with apt-get (log: $SERVERS_DIR/apt-redis.log)"
  mkdir -p "$SERVERS_DIR"
  if ! { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y redis-server; } \
      >"$SERVERS_DIR/apt-redis.log" 2>&1; then
    tail -n 20 "$SERVERS_DIR/apt-redis.log" >&2 || true
    die "apt-get install redis-server failed (see $SERVERS_DIR/apt-redis.log)"
  fi
  command -v redis-server >/dev/null 2>&1 || die "redis-server is still not on PATH after apt-get install"
  command -v redis-cli >/dev/null 2>&1 || die "redis-cli is still not on PATH after apt-get install"
}

ensure_node_installed() {
  if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
    return 0
  fi
  if [[ "$(id -u)" -ne 0 ]]; then
    die "node/npm are not on PATH and this is not root, so they cannot be installed here: install Node.js (20 or later) and retry"
  fi
  log "installing nodejs and npm with apt-get (log: $SERVERS_DIR/apt-node.log)"
  mkdir -p "$SERVERS_DIR"
  if ! { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y nodejs npm; } \
      >"$SERVERS_DIR/apt-node.log" 2>&1; then
    tail -n 20 "$SERVERS_DIR/apt-node.log" >&2 || true
    die "apt-get install nodejs npm failed (see $SERVERS_DIR/apt-node.log)"
  fi
}

# Install .ci/node/node_modules (dynalite) unless the pinned version is already there.
ensure_dynalite_installed() {
  ensure_node_installed
  local want have=""
  want="$(cd "$NODE_DIR" && node -p 'require("./package.json").dependencies.dynalite')" \
    || die "cannot read the dynalite version from $NODE_DIR/package.json"
  if [[ -f "$NODE_DIR/node_modules/dynalite/package.json" ]]; then
    have="$(node -p "require(process.argv[1]).version" "$NODE_DIR/node_modules/dynalite/package.json" 2>/dev/null || true)"
  fi
  [[ "$have" == "$want" ]] && return 0

  mkdir -p "$SERVERS_DIR"
  local npm_log="$SERVERS_DIR/npm-install.log" cmd=install
  [[ -f "$NODE_DIR/package-lock.json" ]] && cmd=ci
  log "installing dynalite $want with 'npm $cmd' in .ci/node (log: $npm_log)"
  # --ignore-scripts: the only install script is leveldown's native build, which
  # is needed only for on-disk storage; these tests keep data in memory.
  if ! (cd "$NODE_DIR" && npm "$cmd" --ignore-scripts --no-audit --no-fund) >"$npm_log" 2>&1; then
    tail -n 20 "$npm_log" >&2 || true
    die "'npm $cmd' for dynalite failed in $NODE_DIR (see $npm_log)"
  fi
  [[ -f "$NODE_DIR/node_modules/dynalite/package.json" ]] || die "dynalite is missing from $NODE_DIR/node_modules after 'npm $cmd'"
}

# ------------------------------------------------------------------ starts --
# Each start-* runs in its own process (see cmd_start), so `die` ends only that
# server's attempt and `set -e` stays in force inside it.

start_redis_daemon() {   # start_redis_daemon PORT DIR [extra redis-server args...]
  local port=$1 dir=$2; shift 2
  mkdir -p "$dir"
  redis-server --bind "$HOST" --port "$port" \
    --save '' --appendonly no \
    --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --dir "$dir" \
    "$@" \
    || die "redis-server did not start on $HOST:$port (log: $dir/redis.log)"
  wait_until "$WAIT_SECONDS" redis_ping "$port" \
    || die "redis-server on $HOST:$port did not answer PING within ${WAIT_SECONDS}s: $(tail -n 1 "$dir/redis.log" 2>/dev/null || echo 'no log') (log: $dir/redis.log)"
}

start_redis() {
  if redis_ping "$REDIS_PORT"; then
    log "redis: reusing the server already answering on $HOST:$REDIS_PORT"
    return 0
  fi
  port_open "$REDIS_PORT" && die "port $REDIS_PORT is in use by something that does not answer Redis PING"
  ensure_redis_installed
  start_redis_daemon "$REDIS_PORT" "$SERVERS_DIR/redis-$REDIS_PORT"
  log "redis: started on $HOST:$REDIS_PORT"
}

# stop_redis PORT: shut down the Redis on PORT (ours or a leftover) and wait.
stop_redis() {
  local port=$1 dir pid
  dir="$(redis_dir "$port")"
  if redis_ping "$port"; then
    timeout 10 redis-cli -h "$HOST" -p "$port" shutdown nosave >/dev/null 2>&1 || true
    wait_until 10 eval "! port_open $port" || true
  fi
  if pid="$(pid_matches "$dir/redis.pid" redis-server)"; then
    kill_and_wait "$pid"
  fi
}

redis_dir() {
  if [[ "$1" == "$REDIS_PORT" ]]; then echo "$SERVERS_DIR/redis-$1"; else echo "$SERVERS_DIR/cluster-$1"; fi
}

start_cluster() {
  if cluster_all_ok; then
    log "redis cluster: reusing the cluster already ok on ports ${CLUSTER_PORTS[*]}"
    return 0
  fi
  ensure_redis_installed
  local p nodes=()
  # Anything half-up (nodes without a working cluster) is rebuilt from scratch.
  for p in "${CLUSTER_PORTS[@]}"; do
    stop_redis "$p"
    port_open "$p" && die "port $p is in use by something that is not a Redis this script can stop"
    rm -rf "$SERVERS_DIR/cluster-$p"
  done
  for p in "${CLUSTER_PORTS[@]}"; do
    start_redis_daemon "$p" "$SERVERS_DIR/cluster-$p" \
      --cluster-enabled yes \
      --cluster-config-file "$SERVERS_DIR/cluster-$p/nodes.conf" \
      --cluster-node-timeout 5000
    nodes+=("$HOST:$p")
  done
  local create_log="$SERVERS_DIR/cluster-create.log"
  if ! timeout 60 redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes \
      >"$create_log" 2>&1; then
    tail -n 5 "$create_log" >&2 || true
    die "redis-cli --cluster create failed for ${nodes[*]} (log: $create_log)"
  fi
  wait_until "$WAIT_SECONDS" cluster_all_ok \
    || die "redis cluster on ports ${CLUSTER_PORTS[*]} did not reach cluster_state:ok within ${WAIT_SECONDS}s (log: $create_log)"
  log "redis cluster: started on ports ${CLUSTER_PORTS[*]}"
}

start_dynalite() {
  if dynalite_up; then
    log "dynalite: reusing the server already answering on $HOST:$DYNALITE_PORT"
    return 0
  fi
  ensure_dynalite_installed
  local dir="$SERVERS_DIR/dynalite" pid
  mkdir -p "$dir"
  rm -f "$dir/dynalite.pid"
  # setsid + nohup: detach from this shell's process group and terminal, so the
  # server outlives this script (and Ctrl-C in test.sh) until `stop`.
  setsid nohup node "$NODE_DIR/dynalite-server.js" \
    --host "$HOST" --port "$DYNALITE_PORT" --pidfile "$dir/dynalite.pid" \
    --createTableMs "$DYNALITE_TABLE_MS" --deleteTableMs "$DYNALITE_TABLE_MS" \
    --updateTableMs "$DYNALITE_TABLE_MS" \
    </dev/null >"$dir/dynalite.log" 2>&1 &
  pid=$!
  local deadline=$((SECONDS + WAIT_SECONDS)) rc
  until dynalite_up; do
    if [[ -n "$pid" ]] && ! kill -0 "$pid" 2>/dev/null; then
      # Exit status 0 would only mean setsid forked; keep waiting for the port.
      rc=0; wait "$pid" || rc=$?
      pid=""
      ((rc == 0)) || die "dynalite exited at start (status $rc): $(tail -n 1 "$dir/dynalite.log" 2>/dev/null) (log: $dir/dynalite.log)"
    fi
    if ((SECONDS >= deadline)); then
      die "dynalite did not answer on $HOST:$DYNALITE_PORT within ${WAIT_SECONDS}s (log: $dir/dynalite.log)"
    fi
    sleep 0.2
  done
  log "dynalite: started on $HOST:$DYNALITE_PORT"
}

stop_dynalite() {
  local dir="$SERVERS_DIR/dynalite" pid f cmdline
  if pid="$(pid_matches "$dir/dynalite.pid" dynalite-server.js)"; then
    kill_and_wait "$pid"
  fi
  # A leftover whose pid file is gone (e.g. the data dir was deleted): find our
  # own launcher on our port by its exact command line.
  if dynalite_up; then
    for f in /proc/[0-9]*/cmdline; do
      cmdline="$(tr '\0' ' ' 2>/dev/null <"$f" || true)"
      if [[ "$cmdline" == *"dynalite-server.js --host $HOST --port $DYNALITE_PORT "* ]]; then
        pid="${f#/proc/}"; pid="${pid%/cmdline}"
        kill_and_wait "$pid"
      fi
    done
  fi
}

# ---------------------------------------------------------------- env file --

write_env() {
  mkdir -p "$SERVERS_DIR"
  local tmp="$ENV_FILE.tmp.$$"
  {
    redis_ping "$REDIS_PORT" && echo "CACHEDHTTP_REDIS=$HOST:$REDIS_PORT"
    if cluster_all_ok; then
      local p list=()
      for p in "${CLUSTER_PORTS[@]}"; do list+=("$HOST:$p"); done
      (IFS=,; echo "CACHEDHTTP_REDIS_CLUSTER=${list[*]}")
    fi
    dynalite_up && echo "CACHEDHTTP_DYNAMODB_URL=http://$HOST:$DYNALITE_PORT"
    if command -v redis-server >/dev/null 2>&1; then
      echo "CACHEDHTTP_REDIS_SERVER_BIN=$(command -v redis-server)"
    fi
    true
  } >"$tmp"
  mv -f "$tmp" "$ENV_FILE"
}

# ---------------------------------------------------------------- commands --

# Serialise start/stop between concurrent callers (e.g. two test runs).
take_lock() {
  mkdir -p "$(dirname "$LOCK_FILE")"
  exec 9>"$LOCK_FILE"
  if command -v flock >/dev/null 2>&1; then
    flock -w 300 9 || die "another ci/servers.sh holds $LOCK_FILE for more than 300s"
  fi
}

cmd_start() {
  take_lock
  mkdir -p "$SERVERS_DIR"
  local failed=0 what
  # One process per server, so a failure (die) ends only that server's attempt.
  # 9>&- : the servers must not inherit the lock's file descriptor (a daemon
  # holding it would keep the lock taken after this script exits).
  for what in redis cluster dynalite; do
    bash "$SELF" "_start-$what" 9>&- || failed=1
  done
  write_env
  log "environment for the tests ($ENV_FILE):"
  cat "$ENV_FILE"
  if ((failed)); then
    log "some servers could not be started (see the FAILED lines above)"
    return 1
  fi
}

cmd_stop() {
  take_lock
  local p
  stop_redis "$REDIS_PORT"
  for p in "${CLUSTER_PORTS[@]}"; do stop_redis "$p"; done
  stop_dynalite
  rm -rf "$SERVERS_DIR"
  log "stopped; removed $SERVERS_DIR"
}

cmd_status() {
  local ok=0 p
  if redis_ping "$REDIS_PORT"; then echo "redis          $HOST:$REDIS_PORT  up"; else echo "redis          $HOST:$REDIS_PORT  down"; ok=1; fi
  if cluster_all_ok; then
    echo "redis cluster  ports ${CLUSTER_PORTS[*]}  up (cluster_state:ok)"
  else
    local states=()
    for p in "${CLUSTER_PORTS[@]}"; do
      if cluster_ok "$p"; then states+=("$p:ok"); elif redis_ping "$p"; then states+=("$p:not-ok"); else states+=("$p:down"); fi
    done
    echo "redis cluster  ports ${CLUSTER_PORTS[*]}  down (${states[*]})"
    ok=1
  fi
  if dynalite_up; then echo "dynalite       $HOST:$DYNALITE_PORT  up"; else echo "dynalite       $HOST:$DYNALITE_PORT  down"; ok=1; fi
  [[ -f "$ENV_FILE" ]] && echo "env file       $ENV_FILE"
  return "$ok"
}

usage() {
  echo "usage: $0 start|stop|status" >&2
  exit 2
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  # internal: one server per process (see cmd_start)
  _start-redis) start_redis ;;
  _start-cluster) start_cluster ;;
  _start-dynalite) start_dynalite ;;
  *) usage ;;
esac
