#!/usr/bin/env bash
# Capture overhead: insert throughput into posts with no capture at all (the capture trigger
# disabled, the service not running), with the capture trigger (log row + NOTIFY + commit-order lock
# in the writer's transaction; the service running in trigger mode, its listener reading the log),
# and with capture from the WAL (the service running in logical mode: the triggers off, its leader
# decoding every insert into the change log beside the writers, its listener reading it). Measured
# by pgbench on a scratch database migrated with migrations/, the rounds in that order and no
# capture once more at the end. Prints one line per case.
#   bash bench/capture-overhead.sh            # 15 s per case
#   SECONDS_PER_CASE=5 bash bench/capture-overhead.sh
# "no capture" is the mean of a round before and a round after the others (the table grows as they run).
# The service waits for readiness and one unmeasured round warms it (reported apart, as cold).
# The logical case needs wal_level=logical and the service's jar (./mvnw -B package -DskipTests, or
# FLUXGATE_JAR); without either it is left out.
set -euo pipefail
cd "$(dirname "$0")/.."

DB=fluxgate_capture
T=${SECONDS_PER_CASE:-15}
JAR=${FLUXGATE_JAR:-app/target/fluxgate-app-0.1.0-SNAPSHOT.jar}
PORT=${BENCH_PORT:-8097}
export PGPASSWORD=${FLUXGATE_DB_PASSWORD:-}
PSQL=(psql -h 127.0.0.1 -U postgres -v ON_ERROR_STOP=1 -q)
drop_database() {
    "${PSQL[@]}" -d postgres -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = '$DB'" >/dev/null
    "${PSQL[@]}" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" 2>/dev/null
}
drop_database
"${PSQL[@]}" -c "CREATE DATABASE $DB"
for migration in $(ls migrations/V*.sql | sort -V) migrations/R__change_log_capture.sql; do
    "${PSQL[@]}" -d "$DB" -f "$migration"
done
"${PSQL[@]}" -d "$DB" -c "INSERT INTO users (name, email, password) VALUES ('Bench', 'bench@example.com', 'x')"

WORK=$(mktemp -d)
SERVICE=
cleanup() {
    [ -n "$SERVICE" ] && kill "$SERVICE" 2>/dev/null && wait "$SERVICE" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
cat > "$WORK/one.sql" <<'SQL'
INSERT INTO posts (author_id, title, body) VALUES (1, 'pgbench', 'the body of an ordinary post, a sentence or two long');
SQL
cat > "$WORK/ten.sql" <<'SQL'
INSERT INTO posts (author_id, title, body)
SELECT 1, 'pgbench', 'the body of an ordinary post, a sentence or two long' FROM generate_series(1, 10);
SQL

rows_per_second() { # clients script rows-per-transaction
    local tps
    tps=$(pgbench -h 127.0.0.1 -U postgres -n -c "$1" -j 2 -T "$T" -f "$WORK/$2" "$DB" 2>/dev/null \
        | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
    awk -v tps="$tps" -v rows="$3" 'BEGIN { printf "%.0f", tps * rows }'
}
trigger() { "${PSQL[@]}" -d "$DB" -c "ALTER TABLE posts $1 TRIGGER posts_change_log"; }
mark() {
    posts_before=$("${PSQL[@]}" -d "$DB" -Atc "SELECT count(*) FROM posts")
    logged_before=$("${PSQL[@]}" -d "$DB" -Atc "SELECT count(*) FROM change_log WHERE table_name = 'posts'")
}
# Waits until every post written since mark is in the change log; prints how long that took.
await_capture() {
    local start written logged
    start=$(date +%s.%N)
    for _ in $(seq 1 600); do
        written=$(( $("${PSQL[@]}" -d "$DB" -Atc "SELECT count(*) FROM posts") - posts_before ))
        logged=$(( $("${PSQL[@]}" -d "$DB" -Atc "SELECT count(*) FROM change_log WHERE table_name = 'posts'") - logged_before ))
        [ "$logged" -ge "$written" ] && break
        sleep 0.2
    done
    awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f s", b - a }'
}
start_service() { # capture mode
    SPRING_FLYWAY_ENABLED=false FLUXGATE_DB_NAME=$DB FLUXGATE_CHANGES_CAPTURE_MODE=$1 PORT=$PORT \
        FLUXGATE_SECURITY_JWT_SECRET=bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz FLUXGATE_WARMUP_MAX_DURATION=0s \
        java -Xmx512m -jar "$JAR" > "$WORK/service-$1.log" 2>&1 &
    SERVICE=$!
    local enabled=$([ "$1" = logical ] && echo D || echo O)
    for _ in $(seq 1 240); do
        curl -fs "http://127.0.0.1:$PORT/actuator/health/readiness" >/dev/null 2>&1 \
            && [ "$("${PSQL[@]}" -d "$DB" -Atc "SELECT tgenabled FROM pg_trigger WHERE tgname = 'posts_change_log'")" = "$enabled" ] \
            && { [ "$1" != logical ] || [ "$("${PSQL[@]}" -d "$DB" -Atc "SELECT count(*) FROM pg_replication_slots WHERE database = '$DB' AND active")" = 1 ]; } \
            && break
        sleep 0.5
    done
    # Cold: the first seconds after start, the JIT compiler still at work. Reported apart.
    mark
    COLD[$1]=$(rows_per_second 8 one.sql 1)
    await_capture >/dev/null
}
stop_service() {
    kill "$SERVICE"; wait "$SERVICE" 2>/dev/null || true
    SERVICE=
}
measure() { # rates-array [trail-array]: every case, and how long the log trailed the writers after it
    local -n into=$1
    for c in "${CASES[@]}"; do
        read -r clients script rows <<<"$c"
        mark
        into[$c]=$(rows_per_second "$clients" "$script.sql" "$rows")
        if [ -n "${2:-}" ]; then
            local -n trail=$2
            trail[$c]=$(await_capture)
        fi
    done
}

CASES=("1 one 1" "1 ten 10" "8 one 1" "8 ten 10")
declare -A NONE NONE_AFTER TRIGGERS LOGICAL TRAIL_TRIGGERS TRAIL_LOGICAL COLD
LOGICAL_OK=$([ "$("${PSQL[@]}" -d postgres -Atc 'SHOW wal_level')" = logical ] && echo 1 || echo)
[ -f "$JAR" ] || { echo "no service jar at $JAR (./mvnw -B package -DskipTests)"; exit 1; }

trigger DISABLE
measure NONE
start_service triggers
measure TRIGGERS TRAIL_TRIGGERS
stop_service
if [ -n "$LOGICAL_OK" ]; then
    start_service logical
    measure LOGICAL TRAIL_LOGICAL
    stop_service
    "${PSQL[@]}" -d postgres -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = '$DB'" >/dev/null
fi
trigger DISABLE
measure NONE_AFTER

printf '%-24s %-12s %-12s %-12s %-12s %-12s %s\n' "case" "no capture" "triggers" "logical" "triggers" "logical" "log caught up after (triggers / logical)"
for c in "${CASES[@]}"; do
    read -r clients script rows <<<"$c"
    none=$(( (NONE[$c] + NONE_AFTER[$c]) / 2 )); trig=${TRIGGERS[$c]}; logi=${LOGICAL[$c]:-}
    printf '%-24s %-12s %-12s %-12s %-12s %-12s %s\n' "$clients clients, $rows row(s)/tx" "$none" "$trig" "${logi:--}" \
        "$(awk -v a="$trig" -v b="$none" 'BEGIN { printf "%.0f%%", a / b * 100 }')" \
        "$([ -n "$logi" ] && awk -v a="$logi" -v b="$none" 'BEGIN { printf "%.0f%%", a / b * 100 }' || echo -)" \
        "${TRAIL_TRIGGERS[$c]:--} / ${TRAIL_LOGICAL[$c]:--}"
done
echo "no capture, first and last round: $(for c in "${CASES[@]}"; do printf '%s/%s ' "${NONE[$c]}" "${NONE_AFTER[$c]}"; done)"
for mode in triggers logical; do
    [ -n "${COLD[$mode]:-}" ] && echo "$mode, first $T s after start (8 clients, 1 row/tx, JIT still compiling): ${COLD[$mode]} rows/s"
done
cleanup
drop_database
