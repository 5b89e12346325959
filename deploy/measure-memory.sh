#!/bin/bash
# Memory of `whistle dev` (one process: embedded Temporal, the worker, the
# API) idle and with N open incidents, each a department-tier report 60 m
# from the others (no duplicates), dispatched and waiting for 报到.
#
#   deploy/measure-memory.sh NAME N [whistle dev flags...]
#
# Needs a PostgreSQL at 127.0.0.1:5432 (trust auth; a database mem_NAME is
# made and dropped), curl, psql, and WHISTLE (default: a build of
# ./cmd/whistle in /tmp). With PPROF=host:port and --pprof host:port it
# also keeps the heap profile and the runtime's memory statistics in /tmp.
set -u
WHISTLE=${WHISTLE:-/tmp/whistle-measure}
[ -x "$WHISTLE" ] || go build -o "$WHISTLE" ./cmd/whistle || exit 1
name=$1; n=$2; shift 2
db="mem_$name"
psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $db" -qc "CREATE DATABASE $db" >/dev/null 2>&1
dir=/tmp/mem-$name; rm -rf $dir; mkdir -p $dir
port=$((18100 + RANDOM % 500))
DATABASE_URL="postgres://postgres@127.0.0.1:5432/$db?sslmode=disable" "$WHISTLE" dev --http 127.0.0.1:$port --data-dir $dir --temporal-port 127.0.0.1:0 "$@" > $dir/log 2>&1 &
pid=$!
for i in $(seq 1 120); do grep -q "Whistle is running" $dir/log && break; sleep 1; done
sleep 10
rss() { awk '/VmRSS/{print int($2/1024)}' /proc/$pid/status; }
idle=$(rss)
tok=$("$WHISTLE" token --role grid_worker --org FH-01-01 --data-dir $dir 2>/dev/null)
start=$(date +%s)
# Points 0.0006° (about 60 m) apart, so that no report is another's duplicate.
seq 0 $((n-1)) | awk '{printf "%.6f %.6f %d\n", 29.30+int($1/60)*0.0006, 104.72+($1%60)*0.0006, $1}' | \
  xargs -P 16 -L 1 sh -c 'curl -s -o /dev/null -w "%{http_code}\n" -X POST http://127.0.0.1:'$port'/v1/reports -H "Authorization: Bearer '$tok'" -H "Content-Type: application/json" -d "{\"category\":\"SR-001\",\"grid\":\"FH-01-01\",\"description\":\"mem $2\",\"location\":{\"lat\":$0,\"lng\":$1}}"' | sort | uniq -c > $dir/codes
for i in $(seq 1 300); do
  c=$(psql -h 127.0.0.1 -U postgres -d $db -Atc "select count(*) from incidents where status='dispatched'")
  [ "$c" -ge "$n" ] && break; sleep 2
done
sleep 15
full=$(rss)
if [ -n "${PPROF:-}" ]; then curl -s "http://$PPROF/debug/pprof/heap?gc=1" -o $dir/heap.pb.gz; cp $dir/heap.pb.gz /tmp/heap-$name.pb.gz; curl -s "http://$PPROF/debug/pprof/heap?debug=1" | grep -E "^# (Sys|HeapAlloc|HeapSys|HeapIdle|HeapInuse|HeapReleased|Stack|MSpan|GCSys|OtherSys|NextGC) " > /tmp/memstats-$name.txt; fi
echo "codes: $(tr '\n' ' ' < $dir/codes)"
echo "$name: n=$n dispatched=$c idle=${idle}MB with_open=${full}MB per_incident=$(( (full-idle)*1024/n ))KB took=$(( $(date +%s)-start ))s flags=$*"
kill -INT $pid; wait $pid 2>/dev/null
psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1
