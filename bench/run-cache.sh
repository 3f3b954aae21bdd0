#!/usr/bin/env bash
# Cached user reads: GET /api/users/{id} at 64 concurrent connections with the Redis cache on, then
# off (every read a PostgreSQL query), then `pgbench -S` (primary-key selects at the same
# concurrency) as the database's own limit on this machine.
#   bash bench/run-cache.sh                       # 15 s per run
#   bash bench/run-cache.sh --seconds=5           # a quick look
#   FLUXGATE_JAR=/path/to/other.jar bash bench/run-cache.sh   # the same runs against another build
set -euo pipefail
cd "$(dirname "$0")/.."

DB=fluxgate_bench
PORT=${BENCH_PORT:-8089}
export PGPASSWORD=${FLUXGATE_DB_PASSWORD:-}
SECONDS_ARG=15
for arg in "$@"; do case "$arg" in --seconds=*) SECONDS_ARG=${arg#--seconds=} ;; esac; done

# With FLUXGATE_JAR set, the service is that jar as it is: only the harness is built.
if [ -n "${FLUXGATE_JAR:-}" ]; then ./mvnw -B -q -DskipTests -pl bench package; else ./mvnw -B -q -DskipTests package; fi
./mvnw -B -q -pl bench dependency:build-classpath -Dmdep.outputFile=target/classpath.txt >/dev/null

printf '%-10s %-12s %-12s %-9s %-9s %-9s %-9s %-8s\n' "cache" "connections" "requests/s" "p50 ms" "p95 ms" "p99 ms" "max ms" "errors"
for cache in on off; do
    psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB" >/dev/null 2>&1
    # A fresh database numbers its users from 1 again: forget what an earlier run cached.
    redis-cli --scan --pattern "fluxgate-bench-$cache:*" | xargs -r redis-cli del >/dev/null
    enabled=true; [ "$cache" = off ] && enabled=false
    FLUXGATE_DB_NAME=$DB PORT=$PORT FLUXGATE_CACHE_ENABLED=$enabled FLUXGATE_CACHE_KEY_PREFIX="fluxgate-bench-$cache:" \
        FLUXGATE_SECURITY_JWT_SECRET=bench-secret-0123456789abcdefghijklmnop \
        java ${SERVER_JAVA_OPTS:--Xms512m -Xmx1g} -jar ${FLUXGATE_JAR:-app/target/fluxgate-app-*.jar} > bench/target/server-$cache.log 2>&1 &
    SERVER=$!
    for _ in $(seq 1 60); do curl -sf "http://localhost:$PORT/actuator/health" >/dev/null && break; sleep 1; done
    java -cp "bench/target/classes:$(cat bench/target/classpath.txt)" io.fluxgate.bench.UserReadBench \
        --base-url="http://localhost:$PORT" --connections=64 --label="$cache" "$@"
    kill $SERVER; wait $SERVER 2>/dev/null || true
done

# The database's own limit: pgbench's select-only script (one primary-key lookup per transaction).
psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS fluxgate_pgbench WITH (FORCE)" -c "CREATE DATABASE fluxgate_pgbench" >/dev/null 2>&1
pgbench -h 127.0.0.1 -U postgres -i -q -s 10 fluxgate_pgbench >/dev/null 2>&1
pgbench -h 127.0.0.1 -U postgres -n -S -c 64 -j 2 -T "$SECONDS_ARG" fluxgate_pgbench 2>/dev/null \
    | awk '/latency average|^tps/ { print "pgbench -S, 64 clients: " $0 }'
psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS fluxgate_pgbench WITH (FORCE)" >/dev/null 2>&1
