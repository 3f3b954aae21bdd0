#!/usr/bin/env bash
# Change-stream benchmark. Starts the service (its own database, fluxgate_bench, on the local
# PostgreSQL), runs the harness against it, prints the table, stops the service.
#   bash bench/run-changes.sh                                   # the full matrix (takes ~15 minutes)
#   bash bench/run-changes.sh --subscribers=100 --rates=100 --seconds=5   # a quick look
#   FLUXGATE_JAR=/path/to/other.jar bash bench/run-changes.sh ...      # the same runs against another build
#   FLUXGATE_CHANGES_CAPTURE_MODE=logical bash bench/run-changes.sh ... # with capture from the WAL
# Harness options: --subscribers=100,1000,5000 --rates=100,1000,5000 --seconds=15 --warmup=3 --writers=8
#   --filters=distinct (every subscriber with its own row filter; see ChangeStreamBench)
set -euo pipefail
cd "$(dirname "$0")/.."

DB=fluxgate_bench
PORT=${BENCH_PORT:-8089}
export PGPASSWORD=${FLUXGATE_DB_PASSWORD:-}
# A run in logical capture mode (FLUXGATE_CHANGES_CAPTURE_MODE=logical) leaves its slot: it goes first.
psql -h 127.0.0.1 -U postgres -d postgres -qc \
    "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = '$DB' AND NOT active" >/dev/null
psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB" >/dev/null

if [ -z "${FLUXGATE_JAR:-}" ]; then
    ./mvnw -B -q -DskipTests package
fi
./mvnw -B -q -pl bench dependency:build-classpath -Dmdep.outputFile=target/classpath.txt >/dev/null

# Every subscriber of the harness signs in as the same user: lift the per-user session limit.
FLUXGATE_DB_NAME=$DB PORT=$PORT FLUXGATE_SECURITY_JWT_SECRET=bench-secret-0123456789abcdefghijklmnop \
    FLUXGATE_CHANGES_MAX_SESSIONS_PER_USER=100000 \
    java ${SERVER_JAVA_OPTS:--Xms512m -Xmx1g} -jar ${FLUXGATE_JAR:-app/target/fluxgate-app-*.jar} > bench/target/server.log 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
# Ready: migrated, and done with its start-up warm-up.
for _ in $(seq 1 120); do
    curl -sf "http://localhost:$PORT/actuator/health/readiness" >/dev/null && break
    sleep 1
done

java ${BENCH_JAVA_OPTS:--Xmx1g} -cp "bench/target/classes:$(cat bench/target/classpath.txt)" \
    io.fluxgate.bench.ChangeStreamBench --base-url="http://localhost:$PORT" --server-pid=$SERVER \
    --jdbc="jdbc:postgresql://127.0.0.1:5432/$DB" "$@"
