#!/usr/bin/env bash
# The fan-out ceiling of this machine: the change-stream harness (same subscribers, same frame size,
# same commit-to-frame measure) against RawBroadcaster, a bare Reactor Netty WebSocket server with no
# database, auth or filtering that writes one pre-encoded frame per change to every socket. Compare
# its highest rate at a given p99 with bench/run-changes.sh's, run with the same options.
#   bash bench/run-broadcaster.sh --subscribers=1000 --rates=100,200,500,1000 --seconds=15
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${BENCH_RAW_PORT:-8091}
if [ ! -d bench/target/classes ]; then
    ./mvnw -B -q -DskipTests -pl bench -am package
fi
./mvnw -B -q -pl bench dependency:build-classpath -Dmdep.outputFile=target/classpath.txt >/dev/null
CP="bench/target/classes:$(cat bench/target/classpath.txt)"

java ${SERVER_JAVA_OPTS:--Xms512m -Xmx1g} -cp "$CP" io.fluxgate.bench.RawBroadcaster --port="$PORT" \
    > bench/target/raw-broadcaster.log 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 60); do curl -sf "http://localhost:$PORT/emit?rate=0" >/dev/null && break; sleep 0.5; done

java ${BENCH_JAVA_OPTS:--Xmx1g} -cp "$CP" io.fluxgate.bench.ChangeStreamBench --raw-url="http://localhost:$PORT" --server-pid=$SERVER "$@"
