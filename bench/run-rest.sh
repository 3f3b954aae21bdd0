#!/usr/bin/env bash
# The REST hot path against the database's own limit, in one run on this machine, with wrk.
#
#   bash bench/run-rest.sh                          # everything (~10 minutes)
#   bash bench/run-rest.sh --cases=on               # only the cached read
#   FLUXGATE_JAR=/path/to/other.jar bash bench/run-rest.sh   # the same runs against another build
#   SERVER_JAVA_OPTS="-Xms512m -Xmx1g -XX:StartFlightRecording=filename=bench/target/on.jfr" ...
#
# For each case the packaged jar starts on a database holding one user (started once before to
# migrate and register it, as a new pod starts on a database with users); from the moment readiness
# reports UP (after the service's own warm-up, when it has one),
# wrk loads `GET /api/users/{id}` (a valid token, 64 keep-alive connections) in 5 s slices for the
# cold first 60 s, then in 15 s runs until two in a row agree within 5% (the warm rate). Cases:
#   on    the Redis cache on (the default); after it, the liveness probe on the same warm JVM, the
#         framework's own ceiling with none of our code on the path
#   off   FLUXGATE_CACHE_ENABLED=false: every read is a primary-key SELECT
#   posts `POST /api/posts` (cache on; each one an INSERT, its change-log row and a NOTIFY), warm runs
#         after 30 s of the same load
#   raw   a bare Reactor Netty server (bench/src/.../RawHttpServer.java) answering every request with
#         the same JSON body: the HTTP ceiling of this machine and load generator, warm runs only
# Then `pgbench -S -c 64 -j 2` (one primary-key SELECT per transaction) twice, and the ratios.
#
# A profile of the warm cached read (JFR ships with the JDK; summarised by bench/jfr-summary.py):
#   SERVER_JAVA_OPTS="-Xms512m -Xmx1g -XX:FlightRecorderOptions=stackdepth=512 \
#     -XX:StartFlightRecording=delay=70s,duration=20s,settings=profile,filename=bench/target/rest/on.jfr" \
#     bash bench/run-rest.sh --cases=on
#   jfr print --stack-depth 512 --json --events jdk.ExecutionSample bench/target/rest/on.jfr > on.json
#   python3 bench/jfr-summary.py on.json
set -euo pipefail
cd "$(dirname "$0")/.."

DB=fluxgate_bench
PORT=${BENCH_PORT:-8089}
CONNECTIONS=${BENCH_CONNECTIONS:-64}
RUN_SECONDS=${BENCH_RUN_SECONDS:-15}
MAX_RUNS=${BENCH_MAX_RUNS:-12}
CASES=on,off,posts,raw
for arg in "$@"; do case "$arg" in --cases=*) CASES=${arg#--cases=} ;; esac; done
export PGPASSWORD=${FLUXGATE_DB_PASSWORD:-}
BASE="http://localhost:$PORT"
OUT=bench/target/rest
mkdir -p "$OUT"

command -v wrk >/dev/null || { echo "wrk is missing (Debian/Ubuntu: apt-get install wrk)"; exit 1; }
if [ -z "${FLUXGATE_JAR:-}" ]; then
    ./mvnw -B -q -DskipTests package
elif [ ! -d bench/target/classes ]; then
    ./mvnw -B -q -DskipTests -pl bench -am package
fi
./mvnw -B -q -pl bench dependency:build-classpath -Dmdep.outputFile=target/classpath.txt >/dev/null
JAR=$(ls ${FLUXGATE_JAR:-app/target/fluxgate-app-*.jar})

SERVER=
trap '[ -n "$SERVER" ] && kill $SERVER 2>/dev/null || true' EXIT

# wrk for $1 seconds against $2 (more headers after it); prints "requests/s p50_ms p99_ms errors".
load() {
    local seconds=$1 url=$2; shift 2
    wrk -t2 -c"$CONNECTIONS" -d"${seconds}s" --latency "$@" "$url" > "$OUT/wrk.txt" 2>&1 || true
    awk '
        function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
        /Requests\/sec/ { rate = $2 }
        /^ +50%/ { p50 = ms($2) } /^ +99%/ { p99 = ms($2) }
        /Non-2xx|Socket errors/ { errors = errors $0 ";" }
        END { printf "%.0f %.1f %.1f %s\n", rate, p50, p99, (errors == "" ? "-" : errors) }' "$OUT/wrk.txt"
}

# One line of a run: label, then load's output.
show() {
    local rate p50 p99 errors
    read -r rate p50 p99 errors <<< "$2"
    printf '  %-24s %8s req/s  p50 %7s ms  p99 %7s ms  errors: %s\n' "$1" "$rate" "$p50" "$p99" "$errors"
}

# Loads $2 (more headers after it) in 5 s slices from now for 60 s (unless COLD=0), then in warm runs
# until stable. Sets COLD30 (mean rate of the first 30 s), WARM (mean of the two agreeing runs), TO80
# (seconds of load until a slice reached 80% of the warm rate) and WARM_P99.
measure() {
    local label=$1 url=$2; shift 2
    local slices=() t=0 line rate
    for _ in $(seq 1 $(( ${COLD:-1} ? 12 : 0 ))); do
        line=$(load 5 "$url" "$@"); rate=${line%% *}; slices+=("$rate"); t=$((t + 5))
        show "$label cold ${t}s" "$line"
    done
    local previous=0 previous_of_last=0 runs=0
    WARM=0; WARM_P99=0
    while [ $runs -lt "$MAX_RUNS" ]; do
        line=$(load "$RUN_SECONDS" "$url" "$@"); rate=${line%% *}; runs=$((runs + 1))
        show "$label warm run $runs" "$line"
        if [ "$previous" -gt 0 ] && awk -v a="$previous" -v b="$rate" 'BEGIN { d = (a > b ? a - b : b - a); exit !(d <= 0.05 * (a > b ? a : b)) }'; then
            WARM=$(( (previous + rate) / 2 )); WARM_P99=$(echo "$line" | awk '{ print $3 }')
            break
        fi
        previous_of_last=$previous; previous=$rate
    done
    if [ "$WARM" -eq 0 ]; then
        WARM=$(( (previous_of_last + rate) / 2 )); WARM_P99=$(echo "$line" | awk '{ print $3 }')
        echo "  $label: no two runs in a row within 5% after $runs runs; using the mean of the last two"
    fi
    [ "${#slices[@]}" -gt 0 ] || { COLD30=-; TO80=-; return; }
    COLD30=$(( (slices[0] + slices[1] + slices[2] + slices[3] + slices[4] + slices[5]) / 6 ))
    TO80=never; t=0
    for rate in "${slices[@]}"; do
        t=$((t + 5))
        if [ $((rate * 100)) -ge $((WARM * 80)) ]; then TO80="${t}s"; break; fi
    done
}

# Starts the jar on $DB with the cache on or off ($1); returns once readiness reports UP.
start_server() {
    redis-cli --scan --pattern "fluxgate-bench-rest:*" | xargs -r redis-cli del >/dev/null
    FLUXGATE_DB_NAME=$DB PORT=$PORT FLUXGATE_CACHE_ENABLED=$1 FLUXGATE_CACHE_KEY_PREFIX="fluxgate-bench-rest:" \
        FLUXGATE_SECURITY_JWT_SECRET=bench-secret-0123456789abcdefghijklmnop \
        java ${SERVER_JAVA_OPTS:--Xms512m -Xmx1g} -jar "$JAR" >> "$OUT/server-$1.log" 2>&1 &
    SERVER=$!
    for _ in $(seq 1 600); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/actuator/health/readiness")" = 200 ] && return
        kill -0 $SERVER 2>/dev/null || { echo "the service did not start: see $OUT/server-$1.log"; exit 1; }
        sleep 0.2
    done
    echo "the service was not ready after 120 s: see $OUT/server-$1.log"; exit 1
}

# A fresh database with one user (USER_ID, TOKEN), as a production database has users when a new pod
# starts: the first start migrates and registers, and the measured one starts cold on it.
prepare_database() {
    psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB" >/dev/null 2>&1
    : > "$OUT/server-$1.log"
    start_server "$1"
    local email="bench-$RANDOM-$$@example.com" body
    curl -sf -X POST "$BASE/api/auth/register" -H 'Content-Type: application/json' \
        -d "{\"name\":\"Bench Reader\",\"email\":\"$email\",\"password\":\"bench-Passw0rd\"}" > "$OUT/user.json"
    USER_ID=$(sed -n 's/^{"id":\([0-9]*\).*/\1/p' "$OUT/user.json")
    body=$(curl -sf -X POST "$BASE/api/auth/login" -H 'Content-Type: application/json' \
        -d "{\"email\":\"$email\",\"password\":\"bench-Passw0rd\"}")
    TOKEN=$(echo "$body" | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
    [ -n "$USER_ID" ] && [ -n "$TOKEN" ] || { echo "could not sign in: $(cat "$OUT/user.json") $body"; exit 1; }
    # The body the raw server answers with: the same bytes the service sends for this read.
    curl -sf "$BASE/api/users/$USER_ID" -H "Authorization: Bearer $TOKEN" > "$OUT/user-body.json"
    stop_server
}

stop_server() {
    kill $SERVER; wait $SERVER 2>/dev/null || true; SERVER=
}

pgbench_select() {
    psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS fluxgate_pgbench WITH (FORCE)" -c "CREATE DATABASE fluxgate_pgbench" >/dev/null 2>&1
    pgbench -h 127.0.0.1 -U postgres -i -q -s 10 fluxgate_pgbench >/dev/null 2>&1
    local a b
    a=$(pgbench -h 127.0.0.1 -U postgres -n -S -c "$CONNECTIONS" -j 2 -T "$RUN_SECONDS" fluxgate_pgbench 2>/dev/null | awk '/^tps/ { printf "%.0f", $3 }')
    b=$(pgbench -h 127.0.0.1 -U postgres -n -S -c "$CONNECTIONS" -j 2 -T "$RUN_SECONDS" fluxgate_pgbench 2>/dev/null | awk '/^tps/ { printf "%.0f", $3 }')
    psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS fluxgate_pgbench WITH (FORCE)" >/dev/null 2>&1
    echo "  pgbench -S -c $CONNECTIONS -j 2: $a, $b tps" >&2
    echo $(( (a + b) / 2 ))
}

declare -A RESULT
echo "$(date -u +%FT%TZ) $(git rev-parse --short HEAD 2>/dev/null) $JAR"
for name in ${CASES//,/ }; do
    if [ "$name" = raw ]; then
        echo "case: raw Reactor Netty server"
        [ -s "$OUT/user-body.json" ] || prepare_database true
        java ${SERVER_JAVA_OPTS:--Xms512m -Xmx1g} -cp "bench/target/classes:$(cat bench/target/classpath.txt)" \
            io.fluxgate.bench.RawHttpServer --port="$PORT" --body="$OUT/user-body.json" > "$OUT/server-raw.log" 2>&1 &
        SERVER=$!
        until curl -sf -o /dev/null "$BASE/"; do kill -0 $SERVER 2>/dev/null || { echo "raw server failed"; exit 1; }; sleep 0.2; done
        MAX_RUNS=4 COLD=0 measure "raw" "$BASE/api/users/1"
        RESULT[raw]="$WARM $WARM_P99 $COLD30 $TO80"
        stop_server
        continue
    fi
    if [ "$name" = posts ]; then
        echo "case: POST /api/posts"
        prepare_database true
        start_server true
        load 30 "$BASE/api/posts" -s bench/post.lua -H "Authorization: Bearer $TOKEN" > /dev/null
        COLD=0 measure "posts" "$BASE/api/posts" -s bench/post.lua -H "Authorization: Bearer $TOKEN"
        RESULT[posts]="$WARM $WARM_P99 - -"
        stop_server
        continue
    fi
    enabled=true; [ "$name" = off ] && enabled=false
    echo "case: cache $name"
    prepare_database $enabled
    started=$(date +%s%N)
    start_server $enabled
    echo "  started and ready in $(( ($(date +%s%N) - started) / 1000000 )) ms"
    measure "cache-$name" "$BASE/api/users/$USER_ID" -H "Authorization: Bearer $TOKEN"
    RESULT[$name]="$WARM $WARM_P99 $COLD30 $TO80"
    if [ "$name" = on ]; then
        # The framework's ceiling on the same warm JVM: two runs, the better one.
        a=$(load "$RUN_SECONDS" "$BASE/actuator/health/liveness"); b=$(load "$RUN_SECONDS" "$BASE/actuator/health/liveness")
        show "liveness" "$a"; show "liveness" "$b"
        RESULT[liveness]=$(printf '%s\n%s\n' "$a" "$b" | sort -n | tail -n 1)
    fi
    stop_server
done
PG=$(pgbench_select)
[ "${PG:-0}" -gt 0 ] || { echo "pgbench gave no rate (is it installed? Debian: postgresql-contrib or postgresql-client)"; PG=1; }

echo
printf '%-24s %10s %9s %11s %9s %10s %10s %8s\n' "route" "warm req/s" "p99 ms" "of pgbench" "of raw" "cold 30s" "cold/warm" "to 80%"
raw_rate=$(echo "${RESULT[raw]:-0}" | awk '{ print $1 }')
row() { # label warm p99 cold to80
    local of_raw=-
    [ "$raw_rate" -gt 0 ] && of_raw="$(($2 * 100 / raw_rate))%"
    local cold_ratio=-
    [ "$4" != - ] && cold_ratio="$(($4 * 100 / $2))%"
    printf '%-24s %10s %9s %10s%% %9s %10s %10s %8s\n' "$1" "$2" "$3" $(($2 * 100 / PG)) "$of_raw" "$4" "$cold_ratio" "$5"
}
for name in ${CASES//,/ }; do
    [ "$name" = raw ] && continue
    read -r warm p99 cold to80 <<< "${RESULT[$name]}"
    label="users/{id} cache $name"; [ "$name" = posts ] && label="POST /api/posts"
    row "$label" "$warm" "$p99" "$cold" "$to80"
done
if [ -n "${RESULT[liveness]:-}" ]; then
    read -r live_rate _ live_p99 _ <<< "${RESULT[liveness]}"
    row "liveness (actuator)" "$live_rate" "$live_p99" - -
fi
if [ "$raw_rate" -gt 0 ]; then
    read -r warm p99 _ _ <<< "${RESULT[raw]}"
    row "raw Reactor Netty" "$warm" "$p99" - -
fi
printf '%-24s %10s\n' "pgbench -S" "$PG"
