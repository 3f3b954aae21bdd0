#!/usr/bin/env bash
# Capture overhead: insert throughput into posts with no capture at all (the capture trigger
# disabled, nothing decoding), with the capture trigger (log row + NOTIFY + commit-order lock in the
# writer's transaction), and with capture from the WAL (the triggers off, the service running in
# logical mode and decoding every insert into the change log beside the writers). Measured by
# pgbench on a scratch database migrated with migrations/. Prints one line per case.
#   bash bench/capture-overhead.sh            # 15 s per case
#   SECONDS_PER_CASE=5 bash bench/capture-overhead.sh
# "no capture" is the mean of a round before and a round after the others (the table grows as they run).
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

CASES=("1 one 1" "1 ten 10" "8 one 1" "8 ten 10")
declare -A NONE TRIGGERS LOGICAL TRAIL
for c in "${CASES[@]}"; do
    read -r clients script rows <<<"$c"
    trigger DISABLE
    NONE[$c]=$(rows_per_second "$clients" "$script.sql" "$rows")
    trigger ENABLE
    TRIGGERS[$c]=$(rows_per_second "$clients" "$script.sql" "$rows")
done

# Waits until the leader has logged every post written since posts_before/logged_before; prints how long it took.
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
mark() {
    posts_before=$("${PSQL[@]}" -d "$DB" -Atc "SELECT count(*) FROM posts")
    logged_before=$("${PSQL[@]}" -d "$DB" -Atc "SELECT count(*) FROM change_log WHERE table_name = 'posts'")
}

COLD=
if [ "$("${PSQL[@]}" -d postgres -Atc 'SHOW wal_level')" = logical ] && [ -f "$JAR" ]; then
    # The service turns the triggers off itself once its slot exists, and decodes beside the writers.
    SPRING_FLYWAY_ENABLED=false FLUXGATE_DB_NAME=$DB FLUXGATE_CHANGES_CAPTURE_MODE=logical PORT=$PORT \
        FLUXGATE_SECURITY_JWT_SECRET=bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz FLUXGATE_WARMUP_MAX_DURATION=0s \
        java -Xmx512m -jar "$JAR" > "$WORK/service.log" 2>&1 &
    SERVICE=$!
    for _ in $(seq 1 240); do
        curl -fs "http://127.0.0.1:$PORT/actuator/health/readiness" >/dev/null 2>&1 \
            && [ "$("${PSQL[@]}" -d "$DB" -Atc "SELECT count(*) FROM pg_replication_slots WHERE database = '$DB' AND active")" = 1 ] \
            && [ "$("${PSQL[@]}" -d "$DB" -Atc "SELECT tgenabled FROM pg_trigger WHERE tgname = 'posts_change_log'")" = D ] && break
        sleep 0.5
    done
    # Cold: the first seconds of decoding after start (the JIT compiler still at work). Not in the table.
    mark
    COLD=$(rows_per_second 8 one.sql 1)
    await_capture >/dev/null
    for c in "${CASES[@]}"; do
        read -r clients script rows <<<"$c"
        mark
        LOGICAL[$c]=$(rows_per_second "$clients" "$script.sql" "$rows")
        # Every insert is captured: wait for the leader to log this case's inserts before the next one,
        # and note how long it trailed the writers.
        TRAIL[$c]=$(await_capture)
    done
    kill "$SERVICE"; wait "$SERVICE" 2>/dev/null || true
    SERVICE=
    "${PSQL[@]}" -d postgres -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = '$DB'" >/dev/null
fi

# No capture again, now that the tables are as large as the logical cases left them: the baseline is
# the mean of the two rounds, so a table grown between cases does not favour either mode.
trigger DISABLE
for c in "${CASES[@]}"; do
    read -r clients script rows <<<"$c"
    AFTER=$(rows_per_second "$clients" "$script.sql" "$rows")
    NONE[$c]=$(( (NONE[$c] + AFTER) / 2 ))
done

printf '%-24s %-12s %-12s %-12s %-16s %-16s %s\n' "case" "no capture" "triggers" "logical" "triggers vs none" "logical vs none" "log caught up after"
for c in "${CASES[@]}"; do
    read -r clients script rows <<<"$c"
    none=${NONE[$c]}; trig=${TRIGGERS[$c]}; logi=${LOGICAL[$c]:-}
    printf '%-24s %-12s %-12s %-12s %-16s %-16s %s\n' "$clients clients, $rows row(s)/tx" "$none" "$trig" "${logi:--}" \
        "$(awk -v a="$trig" -v b="$none" 'BEGIN { printf "%.0f%%", a / b * 100 }')" \
        "$([ -n "$logi" ] && awk -v a="$logi" -v b="$none" 'BEGIN { printf "%.0f%%", a / b * 100 }' || echo -)" "${TRAIL[$c]:--}"
done
[ -n "$COLD" ] && echo "logical, first $T s after start (8 clients, 1 row/tx, JIT still compiling): $COLD rows/s"
cleanup
drop_database
