#!/usr/bin/env bash
# Transfers under contention: POST /api/transfers between random pairs of 2, 8 and 1000 accounts at
# 64 concurrent connections (2 accounts: every transfer waits on the same two row locks), then checks
# that the money added up. The harness registers its 1,000 payers from one address, so the
# registration limit is lifted; the banker is the bootstrap admin.
#   bash bench/run-transfers.sh                   # 15 s per case
#   bash bench/run-transfers.sh --seconds=5       # a quick look
#   FLUXGATE_JAR=/path/to/other.jar bash bench/run-transfers.sh   # the same runs against another build
set -euo pipefail
cd "$(dirname "$0")/.."

DB=fluxgate_bench
PORT=${BENCH_PORT:-8089}
ADMIN=bench-admin@example.com
export PGPASSWORD=${FLUXGATE_DB_PASSWORD:-}

if [ -z "${FLUXGATE_JAR:-}" ]; then
    ./mvnw -B -q -DskipTests package
fi
./mvnw -B -q -pl bench dependency:build-classpath -Dmdep.outputFile=target/classpath.txt >/dev/null

psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB" >/dev/null 2>&1
FLUXGATE_DB_NAME=$DB PORT=$PORT FLUXGATE_CACHE_KEY_PREFIX="fluxgate-bench-transfers:" \
    FLUXGATE_SECURITY_JWT_SECRET=bench-secret-0123456789abcdefghijklmnop \
    FLUXGATE_SECURITY_BOOTSTRAP_ADMIN_EMAIL=$ADMIN FLUXGATE_SECURITY_BOOTSTRAP_ADMIN_PASSWORD=bench-password-1 \
    FLUXGATE_SECURITY_THROTTLE_REGISTRATIONS_PER_ADDRESS=100000 \
    FLUXGATE_SECURITY_BCRYPT_COST=4 \
    java ${SERVER_JAVA_OPTS:--Xms512m -Xmx1g} -jar ${FLUXGATE_JAR:-app/target/fluxgate-app-*.jar} > bench/target/server-transfers.log 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
# Ready: migrated, and done with its start-up warm-up.
for _ in $(seq 1 120); do curl -sf "http://localhost:$PORT/actuator/health/readiness" >/dev/null && break; sleep 1; done

printf '%-9s %-12s %-12s %-9s %-9s %-9s %-9s %-9s %-7s %s\n' "accounts" "connections" "transfers/s" "p50 ms" "p95 ms" "p99 ms" "max ms" "refused" "errors" "conserved"
for accounts in 2 8 1000; do
    java -cp "bench/target/classes:$(cat bench/target/classpath.txt)" io.fluxgate.bench.TransferBench \
        --base-url="http://localhost:$PORT" --connections=64 --accounts=$accounts --admin=$ADMIN "$@"
done
# Bursts: N transfers sent at the same moment (200 between two accounts, every one waiting on the
# same row locks; 1,000 among 20 accounts, 50 from each, within the 100 one account may have in
# flight); they queue in the service (8 at a time, FLUXGATE_ACCOUNTS_TRANSFER_CONCURRENCY) instead of
# timing out on the connection pool.
printf '\n%-9s %-7s %-10s %-9s %-9s %-24s %s\n' "accounts" "burst" "total ms" "p50 ms" "p99 ms" "answers" "conserved"
for case in 2:200 20:1000; do
    java -cp "bench/target/classes:$(cat bench/target/classpath.txt)" io.fluxgate.bench.TransferBench \
        --base-url="http://localhost:$PORT" --connections=${case#*:} --accounts=${case%:*} --burst=${case#*:} --admin=$ADMIN
done
curl -s "http://localhost:$PORT/actuator/prometheus" | grep -E '^fluxgate_transfers(_retries)?_total' || true
