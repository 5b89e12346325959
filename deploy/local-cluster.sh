#!/usr/bin/env bash
# Whistle's production topology on one machine, no Docker, no downloads:
#   - a standalone Temporal server built from go.temporal.io/server (the
#     release the main module embeds), its schema set up by Temporal's own
#     temporal-sql-tool, persistence and visibility on PostgreSQL;
#   - a three-node NATS JetStream cluster (nats-server built from its module),
#     every Whistle stream at 3 replicas;
#   - two `whistle serve` and two `whistle worker` processes;
#   - one PostgreSQL, private, from the installed server binaries.
#
#   deploy/local-cluster.sh up       build, start everything, print where it listens
#   deploy/local-cluster.sh bench    push incidents through it (flags go to whistle bench)
#   deploy/local-cluster.sh chaos    bench while killing a worker, a serve and a NATS
#                                    node and restarting Temporal; check the record
#   deploy/local-cluster.sh capacity CPU per incident lifecycle for each component
#                                    and bytes per incident in each database
#   deploy/local-cluster.sh open N   leave N incidents open; each process's memory
#   deploy/local-cluster.sh status   what runs
#   deploy/local-cluster.sh down     stop everything and remove its data
#                                    (WHISTLE_CLUSTER_KEEP=1 keeps the data)
#
# Settings (environment): WHISTLE_CLUSTER_DIR (state, default .whistle-cluster
# in the repository), WHISTLE_CLUSTER_PORT_BASE (default 17000: ports are
# base+offset, listed by `up`), TEMPORAL_SHARDS (default 4), CHAOS_N (reports
# in the chaos run, default 600), CHAOS_CONCURRENCY (default 30),
# WORKFLOW_CACHE (the workers' --workflow-cache; default whistle worker's 2,000).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=${WHISTLE_CLUSTER_DIR:-$ROOT/.whistle-cluster}
BASE=${WHISTLE_CLUSTER_PORT_BASE:-17000}
SHARDS=${TEMPORAL_SHARDS:-4}
NAMESPACE=whistle

PG_PORT=$((BASE + 432))
T_FRONTEND=$((BASE + 233)) T_HISTORY=$((BASE + 234)) T_MATCHING=$((BASE + 235)) T_WORKER=$((BASE + 239))
NATS_PORTS=($((BASE + 222)) $((BASE + 223)) $((BASE + 224)))
ROUTE_PORTS=($((BASE + 622)) $((BASE + 623)) $((BASE + 624)))
MON_PORTS=($((BASE + 822)) $((BASE + 823)) $((BASE + 824)))
SERVE_PORTS=($((BASE + 80)) $((BASE + 81)))
WORKER_HEALTH_PORTS=($((BASE + 90)) $((BASE + 91)))
WORKER_PPROF_PORTS=($((BASE + 92)) $((BASE + 93)))

BIN=$DIR/bin LOGS=$DIR/logs RUN=$DIR/run

say() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { say "error: $*"; exit 1; }

# ---- building -------------------------------------------------------------

build() {
  mkdir -p "$BIN"
  say "building whistle and nats-server (main module), temporal-server and temporal-sql-tool (deploy/cluster module)"
  (cd "$ROOT" && go build -o "$BIN/whistle" ./cmd/whistle \
    && go build -o "$BIN/nats-server" github.com/nats-io/nats-server/v2)
  (cd "$ROOT/deploy/cluster" && go build -o "$BIN/temporal-server" go.temporal.io/server/cmd/server \
    && go build -o "$BIN/temporal-sql-tool" go.temporal.io/server/cmd/tools/sql)
}

# ---- processes --------------------------------------------------------------

pid_of() { cat "$RUN/$1.pid" 2>/dev/null || true; }
alive() { local p; p=$(pid_of "$1"); [ -n "$p" ] && kill -0 "$p" 2>/dev/null; }

# start NAME CMD…: runs CMD in a session of its own (so it outlives this
# script and a kill reaches it alone), output appended to logs/NAME.log.
start() {
  local name=$1; shift
  alive "$name" && return 0
  mkdir -p "$LOGS" "$RUN"
  printf '\n==== %s start\n' "$(date -u +%FT%TZ)" >>"$LOGS/$name.log"
  setsid "$@" >>"$LOGS/$name.log" 2>&1 </dev/null &
  echo $! >"$RUN/$name.pid"
  disown $! # its death (chaos kills it) is not this script's news
}

# await WHAT SECONDS CMD…: polls CMD until it succeeds or SECONDS pass.
await() {
  local what=$1 secs=$2; shift 2
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || die "$what not ready after ${secs}s (logs in $LOGS)"
    sleep 0.2
  done
}

# gone NAME: waits until process NAME has exited (a SIGKILL is not instant).
gone() {
  local p; p=$(pid_of "$1")
  [ -n "$p" ] || return 0
  local deadline=$((SECONDS + 30))
  while kill -0 "$p" 2>/dev/null; do
    [ $SECONDS -lt $deadline ] || die "$1 (pid $p) does not exit"
    sleep 0.1
  done
}

stop() {
  local name=$1 p; p=$(pid_of "$name")
  if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then
    kill -TERM "$p" 2>/dev/null || true
    local deadline=$((SECONDS + 20))
    while kill -0 "$p" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
    gone "$name"
  fi
  rm -f "$RUN/$name.pid"
}

kill9() {
  local p; p=$(pid_of "$1")
  [ -n "$p" ] || die "$1 is not running"
  say "chaos: SIGKILL $1 (pid $p)"
  kill -KILL "$p"
  gone "$1"
  rm -f "$RUN/$1.pid"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# ---- PostgreSQL ---------------------------------------------------------------

pg_bindir() {
  # initdb may be a link on PATH to the bin directory that has the rest.
  if command -v initdb >/dev/null 2>&1; then dirname "$(readlink -f "$(command -v initdb)")"; return; fi
  local d; d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [ -n "$d" ] || die "no PostgreSQL server binaries (initdb): install the postgresql package"
  echo "$d"
}

# PostgreSQL refuses to run as root: then it runs as postgres (or nobody).
pg_user() {
  if [ "$(id -u)" != 0 ]; then id -un; elif id postgres >/dev/null 2>&1; then echo postgres; else echo nobody; fi
}
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u "$(pg_user)" -- "$@"; else "$@"; fi; }

pg_data() {
  # The server's account must reach its directory; under /root it cannot.
  if [ "$(id -u)" = 0 ] && ! runuser -u "$(pg_user)" -- test -x "$DIR" 2>/dev/null; then
    echo "${TMPDIR:-/tmp}/whistle-cluster-$BASE-pg"
  else
    echo "$DIR/pg"
  fi
}

pg_up() {
  local bin data; bin=$(pg_bindir); data=$(pg_data)
  if [ ! -f "$data/PG_VERSION" ]; then
    say "postgres: initdb $data"
    mkdir -p "$data"
    [ "$(id -u)" = 0 ] && chown "$(pg_user)" "$data"
    as_pg "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C >"$LOGS/initdb.log" 2>&1 \
      || die "initdb failed: $(tail -5 "$LOGS/initdb.log")"
  fi
  if ! as_pg "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    touch "$LOGS/postgres.log"; [ "$(id -u)" = 0 ] && chown "$(pg_user)" "$LOGS/postgres.log"
    as_pg "$bin/pg_ctl" -D "$data" -l "$LOGS/postgres.log" -w -t 60 start \
      -o "-p $PG_PORT -k $data -c listen_addresses=127.0.0.1 -c max_connections=300 -c shared_buffers=256MB" >/dev/null \
      || die "postgres did not start: $(tail -5 "$LOGS/postgres.log")"
  fi
  await postgres 30 "$bin/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"
}

pg_down() {
  local bin data; bin=$(pg_bindir); data=$(pg_data)
  [ -f "$data/PG_VERSION" ] || return 0
  as_pg "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 || true
}

psql_db() { "$(pg_bindir)/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres -d "$1" "${@:2}"; }
DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/whistle?sslmode=disable"

# ---- Temporal -----------------------------------------------------------------

temporal_schema() {
  [ -f "$DIR/temporal-schema.done" ] && return 0
  local schema; schema=$(cd "$ROOT/deploy/cluster" && go list -m -f '{{.Dir}}' go.temporal.io/server)/schema/postgresql/v12
  local tool=("$BIN/temporal-sql-tool" --plugin postgres12 --ep 127.0.0.1 -p "$PG_PORT" -u postgres)
  for db in temporal temporal_visibility; do
    local dir=temporal; [ $db = temporal_visibility ] && dir=visibility
    say "temporal: schema of $db from $schema/$dir (temporal-sql-tool)"
    {
      "${tool[@]}" --db $db create-database
      "${tool[@]}" --db $db setup-schema -v 0.0
      "${tool[@]}" --db $db update-schema -d "$schema/$dir/versioned"
    } >>"$LOGS/temporal-schema.log" 2>&1 || die "temporal schema of $db: see $LOGS/temporal-schema.log"
  done
  touch "$DIR/temporal-schema.done"
}

temporal_up() {
  sed -e "s|@SHARDS@|$SHARDS|; s|@PG_PORT@|$PG_PORT|g; s|@PG_USER@|postgres|g; s|@DIR@|$DIR|g" \
    -e "s|@FRONTEND@|$T_FRONTEND|g; s|@HISTORY@|$T_HISTORY|; s|@MATCHING@|$T_MATCHING|; s|@WORKER@|$T_WORKER|" \
    -e "s|@FRONTEND_MEMBERSHIP@|$((BASE + 933))|; s|@HISTORY_MEMBERSHIP@|$((BASE + 934))|" \
    -e "s|@MATCHING_MEMBERSHIP@|$((BASE + 935))|; s|@WORKER_MEMBERSHIP@|$((BASE + 939))|" \
    "$ROOT/deploy/cluster/temporal.yaml.in" >"$DIR/temporal.yaml"
  cp "$ROOT/deploy/cluster/dynamicconfig.yaml" "$DIR/dynamicconfig.yaml"
  start temporal "$BIN/temporal-server" --config-file "$DIR/temporal.yaml" --allow-no-auth start
  # whistle namespace waits for the frontend, then registers the namespace
  # (or finds it there).
  "$BIN/whistle" namespace --temporal-address "127.0.0.1:$T_FRONTEND" --temporal-namespace $NAMESPACE \
    --wait 90s >>"$LOGS/namespace.log" 2>&1 || die "temporal did not come up: $(tail -5 "$LOGS/temporal.log")"
}

# ---- NATS ---------------------------------------------------------------------

nats_urls() { local IFS=,; local u=(); for p in "${NATS_PORTS[@]}"; do u+=("nats://127.0.0.1:$p"); done; echo "${u[*]}"; }

nats_node() {
  local i=$1 routes=() 
  for p in "${ROUTE_PORTS[@]}"; do routes+=("nats://127.0.0.1:$p"); done
  mkdir -p "$DIR/nats/$i"
  start "nats-$i" "$BIN/nats-server" -n "nats-$i" -a 127.0.0.1 -p "${NATS_PORTS[$i]}" -m "${MON_PORTS[$i]}" \
    -js -sd "$DIR/nats/$i" --cluster_name whistle --cluster "nats://127.0.0.1:${ROUTE_PORTS[$i]}" \
    --routes "$(IFS=,; echo "${routes[*]}")"
  await "nats-$i" 30 port_open "${NATS_PORTS[$i]}"
}

# ---- Whistle --------------------------------------------------------------------

whistle_env() {
  [ -f "$DIR/jwt-secret" ] || head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$DIR/jwt-secret"
  export DATABASE_URL NATS_URL WHISTLE_STREAM_REPLICAS=3 TEMPORAL_ADDRESS="127.0.0.1:$T_FRONTEND"
  export TEMPORAL_NAMESPACE=$NAMESPACE WHISTLE_JWT_SECRET
  NATS_URL=$(nats_urls)
  WHISTLE_JWT_SECRET=$(cat "$DIR/jwt-secret")
}

serve_up() {
  local i=$1
  start "serve-$i" "$BIN/whistle" serve --http "127.0.0.1:${SERVE_PORTS[$i]}"
  await "serve-$i" 90 curl -fsS "http://127.0.0.1:${SERVE_PORTS[$i]}/readyz"
}

worker_up() {
  local i=$1 args=()
  [ -n "${WORKFLOW_CACHE:-}" ] && args+=(--workflow-cache "$WORKFLOW_CACHE")
  start "worker-$i" "$BIN/whistle" worker --health "127.0.0.1:${WORKER_HEALTH_PORTS[$i]}" \
    --pprof "127.0.0.1:${WORKER_PPROF_PORTS[$i]}" "${args[@]}"
  await "worker-$i" 90 curl -fsS "http://127.0.0.1:${WORKER_HEALTH_PORTS[$i]}/readyz"
}

up() {
  mkdir -p "$DIR" "$LOGS" "$RUN"
  build
  pg_up
  psql_db postgres -tAc "SELECT 1 FROM pg_database WHERE datname='whistle'" | grep -q 1 \
    || psql_db postgres -c "CREATE DATABASE whistle"
  temporal_schema
  for i in 0 1 2; do nats_node $i; done
  temporal_up
  whistle_env
  "$BIN/whistle" migrate >>"$LOGS/migrate.log" 2>&1 || die "migrate: $(tail -5 "$LOGS/migrate.log")"
  serve_up 0; serve_up 1
  worker_up 0; worker_up 1
  cat <<EOF
Whistle cluster up (state in $DIR, logs in $LOGS):
  API          http://127.0.0.1:${SERVE_PORTS[0]}  http://127.0.0.1:${SERVE_PORTS[1]}  (console at /, OpenAPI at /docs)
  workers      2 (whistle worker), namespace $NAMESPACE, readiness on http://127.0.0.1:${WORKER_HEALTH_PORTS[0]}/readyz and :${WORKER_HEALTH_PORTS[1]}
  Temporal     127.0.0.1:$T_FRONTEND ($SHARDS history shards, PostgreSQL persistence and visibility)
  NATS         $(nats_urls) (JetStream, streams at 3 replicas)
  PostgreSQL   $DATABASE_URL
  token        WHISTLE_JWT_SECRET=\$(cat $DIR/jwt-secret) $BIN/whistle token --role district --org district
EOF
}

status() {
  local n
  for n in temporal nats-0 nats-1 nats-2 serve-0 serve-1 worker-0 worker-1; do
    if alive "$n"; then echo "$n running (pid $(pid_of "$n"))"; else echo "$n stopped"; fi
  done
  if "$(pg_bindir)/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; then echo "postgres running"; else echo "postgres stopped"; fi
}

down() {
  local n
  for n in serve-0 serve-1 worker-0 worker-1 temporal nats-0 nats-1 nats-2; do stop "$n"; done
  pg_down
  if [ "${WHISTLE_CLUSTER_KEEP:-}" = 1 ]; then
    say "stopped; data kept in $DIR"
  else
    rm -rf "$(pg_data)" "$DIR/nats" "$RUN" "$DIR/temporal-schema.done" "$DIR/jwt-secret"
    say "stopped; data removed (binaries and logs kept in $DIR)"
  fi
}

bench() {
  whistle_env
  "$BIN/whistle" bench --url "http://127.0.0.1:${SERVE_PORTS[0]},http://127.0.0.1:${SERVE_PORTS[1]}" \
    --nats "$(nats_urls)" "$@"
}

# ---- chaos ------------------------------------------------------------------------

# closed_of RUN: the run's incidents that are closed in the read model.
closed_of() {
  psql_db whistle -tAc "SELECT count(*) FROM incidents WHERE status = 'closed' AND doc->>'description' LIKE 'whistle bench $1 #%'"
}

# at_least RUN N BENCH_PID: waits until N of the run's incidents are closed;
# fails when the bench has ended before or no progress comes in 5 minutes.
at_least() {
  local run=$1 n=$2 bench=$3 deadline=$((SECONDS + 300))
  while [ "$(closed_of "$run")" -lt "$n" ]; do
    kill -0 "$bench" 2>/dev/null || return 0 # the bench ended: its result tells
    [ $SECONDS -lt $deadline ] || die "chaos: fewer than $n incidents closed after 5 minutes"
    sleep 0.5
  done
}

chaos() {
  local n=${CHAOS_N:-600} c=${CHAOS_CONCURRENCY:-30} run="chaos-$(date +%s)"
  up
  say "chaos: run $run, $n reports, $c at a time, through both serves"
  bench --n "$n" --concurrency "$c" --run-id "$run" --attempts 40 --incident-timeout 8m --timeout 20m \
    >"$LOGS/chaos-bench.out" 2>"$LOGS/chaos-bench.log" &
  local bp=$! step=$((n / 10))

  at_least "$run" $((2 * step)) $bp; kill9 worker-0
  at_least "$run" $((3 * step)) $bp; say "chaos: restart worker-0"; whistle_env; worker_up 0
  at_least "$run" $((4 * step)) $bp; kill9 serve-0
  at_least "$run" $((5 * step)) $bp; say "chaos: restart serve-0"; serve_up 0
  at_least "$run" $((6 * step)) $bp; kill9 nats-1
  at_least "$run" $((7 * step)) $bp; say "chaos: restart nats-1"; nats_node 1
  at_least "$run" $((8 * step)) $bp; say "chaos: restart temporal"; stop temporal; temporal_up

  local rc=0
  wait $bp || rc=$?
  cat "$LOGS/chaos-bench.out"
  [ $rc = 0 ] || say "chaos: the bench exited $rc (see $LOGS/chaos-bench.log)"

  local row total distinct closed
  row=$(psql_db whistle -tA -F' ' -c "SELECT count(*), count(DISTINCT doc->>'description'),
      count(*) FILTER (WHERE status = 'closed') FROM incidents WHERE doc->>'description' LIKE 'whistle bench $run #%'")
  read -r total distinct closed <<<"$row"
  local dups=$((total - distinct)) check=ok
  "$BIN/whistle" metrics check --all >"$LOGS/chaos-metrics-check.log" 2>&1 || check=failed
  local line="chaos: $n reports, $closed closed, $dups duplicates, metrics check $check"
  if [ $rc = 0 ] && [ "$distinct" = "$n" ] && [ "$closed" = "$n" ] && [ $dups = 0 ] && [ $check = ok ]; then
    echo "$line"
  else
    [ "$distinct" = "$n" ] || say "chaos: $distinct of $n reports became incidents"
    [ $check = ok ] || tail -20 "$LOGS/chaos-metrics-check.log" >&2
    echo "$line"
    echo "chaos: FAILED"
    exit 1
  fi
}

[ -n "${LOCAL_CLUSTER_TRACE:-}" ] && set -x
# ---- capacity -------------------------------------------------------------------------

HZ=$(getconf CLK_TCK)

# ticks PID: CPU clock ticks (user+system) the process has used, with
# those of its children that have exited (PostgreSQL's closed backends).
ticks() {
  local f; f=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
  f=${f##*) } # the fields after the command name, which may hold spaces
  set -- $f   # $12 utime, $13 stime, $14 cutime, $15 cstime
  echo $((${12} + ${13} + ${14} + ${15}))
}

# pg_ticks: PostgreSQL's CPU: the postmaster with its exited backends, plus
# every live backend.
pg_ticks() {
  local pm sum c; pm=$(head -1 "$(pg_data)/postmaster.pid")
  sum=$(ticks "$pm")
  for c in $(cat "/proc/$pm/task/$pm/children" 2>/dev/null); do sum=$((sum + $(ticks "$c"))); done
  echo $sum
}

cpu_snapshot() {
  local n
  for n in temporal nats-0 nats-1 nats-2 serve-0 serve-1 worker-0 worker-1; do echo "$n $(ticks "$(pid_of "$n")")"; done
  echo "postgres $(pg_ticks)"
}

db_bytes() { psql_db postgres -tAc "SELECT pg_database_size('$1')"; }

# capacity: pushes CAPACITY_N incidents (default 1000) through the cluster
# and reports each component's CPU per incident lifecycle and the bytes each
# incident added to each database.
capacity() {
  local n=${CAPACITY_N:-1000} c=${CAPACITY_CONCURRENCY:-30} run="capacity-$(date +%s)"
  up >/dev/null
  local before after db
  declare -A b0 b1
  for db in whistle temporal temporal_visibility; do b0[$db]=$(db_bytes $db); done
  before=$(cpu_snapshot)
  local t0=$SECONDS
  bench --n "$n" --concurrency "$c" --run-id "$run" >"$LOGS/capacity-bench.out" 2>"$LOGS/capacity-bench.log"     || die "capacity: the bench failed: $(tail -20 "$LOGS/capacity-bench.out")"
  local wall=$((SECONDS - t0))
  after=$(cpu_snapshot)
  psql_db whistle -c "CHECKPOINT" >/dev/null
  for db in whistle temporal temporal_visibility; do b1[$db]=$(db_bytes $db); done
  local tasks; tasks=$(psql_db whistle -tAc "SELECT count(*) FROM tasks t JOIN incidents i ON i.id = t.incident_id WHERE i.doc->>'description' LIKE 'whistle bench $run #%'")
  grep -E "^(wall|closed)" "$LOGS/capacity-bench.out"
  printf '\n%-22s %12s %16s\n' "component" "CPU seconds" "CPU ms/incident"
  local total=0 name t0s t1s group
  declare -A sums
  while read -r name t0s; do
    t1s=$(awk -v n="$name" '$1 == n {print $2}' <<<"$after")
    case $name in temporal) group=temporal ;; nats-*) group=nats ;; serve-* | worker-*) group="whistle ${name%-*}" ;; *) group=$name ;; esac
    sums[$group]=$(( ${sums[$group]:-0} + t1s - t0s ))
  done <<<"$before"
  for group in temporal "whistle serve" "whistle worker" nats postgres; do
    total=$((total + sums[$group]))
    awk -v g="$group" -v t="${sums[$group]}" -v hz="$HZ" -v n="$n" 'BEGIN { printf "%-22s %12.1f %16.1f\n", g, t/hz, 1000*t/hz/n }'
  done
  awk -v t="$total" -v hz="$HZ" -v n="$n" -v w="$wall" 'BEGIN { printf "%-22s %12.1f %16.1f   (%d s wall, %.2f cores busy)\n", "all", t/hz, 1000*t/hz/n, w, t/hz/w }'
  printf '\n%-22s %14s %16s\n' "database" "bytes added" "bytes/incident"
  for db in whistle temporal temporal_visibility; do
    awk -v d="$db" -v b="$(( b1[$db] - b0[$db] ))" -v n="$n" 'BEGIN { printf "%-22s %14d %16d\n", d, b, b/n }'
  done
  echo "tasks                  $tasks ($(awk -v t="$tasks" -v n="$n" 'BEGIN { printf "%.2f", t/n }') per incident)"
}

# ---- memory per open incident ------------------------------------------------------------

rss_mb() { awk '/VmRSS/ {print int($2 / 1024)}' "/proc/$(pid_of "$1")/status" 2>/dev/null || echo 0; }

# live_mb I: worker I's Go heap in use right after a collection and its
# goroutine stacks, in MB ("heap+stacks"): what the process holds, where
# RSS also counts what the runtime freed but has not returned yet. Its heap
# profile is kept in the logs as worker-I.heap for go tool pprof.
live_mb() {
  local url="http://127.0.0.1:${WORKER_PPROF_PORTS[$1]}/debug/pprof/heap"
  curl -fsS -o "$LOGS/worker-$1.heap" "$url?gc=1" || true
  curl -fsS "$url?gc=1&debug=1" |
    awk '/^# HeapAlloc = / {h = int($4 / 1048576)} /^# Stack = / {s = int($4 / 1048576)} END {print h "+" s}'
}

# open N: on a fresh cluster (its data removed first), reports N
# department-tier incidents through both serves and leaves them open
# (dispatched, awaiting 报到), then prints each process's memory before and
# after. WORKFLOW_CACHE sets the workers' cache.
open_incidents() {
  local n=${1:-3000} i
  down >/dev/null 2>&1
  up >/dev/null
  whistle_env
  local procs=(worker-0 worker-1 serve-0 serve-1 temporal) before=() after=()
  for i in "${!procs[@]}"; do before[$i]=$(rss_mb "${procs[$i]}"); done
  local live_before=($(live_mb 0) $(live_mb 1))
  local tok; tok=$("$BIN/whistle" token --role grid_worker --org FH-01-01 --ttl 2h)
  local run; run="open-$(date +%s)"
  say "open: $n reports, left open (run $run, workflow cache ${WORKFLOW_CACHE:-default})"
  # Points about 60 m apart so that none is another's duplicate.
  seq 0 $((n - 1)) | awk -v a="${SERVE_PORTS[0]}" -v b="${SERVE_PORTS[1]}" \
    '{printf "%d %.6f %.6f %d\n", ($1 % 2 ? b : a), 29.30 + int($1 / 60) * 0.0006, 104.72 + ($1 % 60) * 0.0006, $1}' |
    xargs -P 16 -L 1 sh -c 'curl -s -o /dev/null -w "%{http_code}\n" -X POST "http://127.0.0.1:$0/v1/reports" \
      -H "Authorization: Bearer '"$tok"'" -H "Idempotency-Key: '"$run"'-$3" -H "Content-Type: application/json" \
      -d "{\"category\":\"SR-001\",\"grid\":\"FH-01-01\",\"description\":\"'"$run"' $3\",\"location\":{\"lat\":$1,\"lng\":$2}}"' |
    sort | uniq -c >"$LOGS/open-codes"
  local deadline=$((SECONDS + 1800)) c=0
  while :; do
    c=$(psql_db whistle -tAc "SELECT count(*) FROM incidents WHERE status = 'dispatched' AND doc->>'description' LIKE '$run %'")
    [ "$c" -ge "$n" ] && break
    [ $SECONDS -lt $deadline ] || die "open: only $c of $n dispatched after 30 minutes"
    sleep 2
  done
  sleep 15 # let the last workflow tasks settle before reading memory
  for i in "${!procs[@]}"; do after[$i]=$(rss_mb "${procs[$i]}"); done
  local live_after=($(live_mb 0) $(live_mb 1))
  echo "answers: $(tr '\n' ' ' <"$LOGS/open-codes")"
  printf '%-10s %10s %14s\n' process "RSS before" "RSS with open"
  for i in "${!procs[@]}"; do printf '%-10s %7d MB %11d MB\n' "${procs[$i]}" "${before[$i]}" "${after[$i]}"; done
  local dw=$(( after[0] + after[1] - before[0] - before[1] ))
  echo "workers: $(( dw * 1024 / n )) KB per open incident ($n open across both; cache ${WORKFLOW_CACHE:-default})"
  echo "workers' Go heap after a collection + goroutine stacks: ${live_before[0]} -> ${live_after[0]} MB and ${live_before[1]} -> ${live_after[1]} MB" \
    "(profiles: $LOGS/worker-0.heap, worker-1.heap)"
}

case "${1:-}" in
  up) up ;;
  open) shift; open_incidents "$@" ;;
  capacity) capacity ;;
  bench) shift; bench "$@" ;;
  chaos) chaos ;;
  status) status ;;
  down) down ;;
  *) sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
