#!/usr/bin/env bash
# Capture overhead: insert throughput into posts with no capture at all (the capture trigger
# disabled, nothing decoding), with the capture trigger (log row + NOTIFY + commit-order lock in the
# writer's transaction), and with capture from the WAL (the triggers off, the service running in
# logical mode and decoding every insert into the change log beside the writers). Measured by
# pgbench on a scratch database migrated with migrations/. Prints one line per case.
#   bash bench/capture-overhead.sh            # 15 s per case
#   SECONDS_PER_CASE=5 bash bench/capture-overhead.sh
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

if [ "$("${PSQL[@]}" -d postgres -Atc 'SHOW wal_level')" = logical ] && [ -f "$JAR" ]; then
    # The service turns the triggers off itself once its slot exists, and decodes beside the writers.
    SPRING_FLYWAY_ENABLED=false FLUXGATE_DB_NAME=$DB FLUXGATE_CHANGES_CAPTURE_MODE=logical PORT=$PORT \
        FLUXGATE_SECURITY_JWT_SECRET=bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz FLUXGATE_WARMUP_MAX_DURATION=0s \
        java -Xmx512m -jar "$JAR" > "$WORK/service.log" 2>&1 &
    SERVICE=$!
    for _ in $(seq 1 120); do
        [ "$("${PSQL[@]}" -d "$DB" -Atc "SELECT count(*) FROM pg_replication_slots WHERE database = '$DB' AND active")" = 1 ] \
            && [ "$("${PSQL[@]}" -d "$DB" -Atc "SELECT tgenabled FROM pg_trigger WHERE tgname = 'posts_change_log'")" = D ] && break
        sleep 0.5
    done
    for c in "${CASES[@]}"; do
        read -r clients script rows <<<"$c"
        posts_before=$("${PSQL[@]}" -d "$DB" -Atc "SELECT count(*) FROM posts")
        logged_before=$("${PSQL[@]}" -d "$DB" -Atc "SELECT count(*) FROM change_log WHERE table_name = 'posts'")
        LOGICAL[$c]=$(rows_per_second "$clients" "$script.sql" "$rows")
        # Every insert is captured: wait for the leader to log this case's inserts before the next one,
        # and note how long it trailed the writers.
        caught_up=$(date +%s.%N)
        for _ in $(seq 1 600); do
            written=$(( $("${PSQL[@]}" -d "$DB" -Atc "SELECT count(*) FROM posts") - posts_before ))
            logged=$(( $("${PSQL[@]}" -d "$DB" -Atc "SELECT count(*) FROM change_log WHERE table_name = 'posts'") - logged_before ))
            [ "$logged" -ge "$written" ] && break
            sleep 0.2
        done
        TRAIL[$c]=$(awk -v a="$caught_up" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f s", b - a }')
    done
fi

printf '%-24s %-12s %-12s %-12s %-16s %-16s %s\n' "case" "no capture" "triggers" "logical" "triggers vs none" "logical vs none" "log caught up after"
for c in "${CASES[@]}"; do
    read -r clients script rows <<<"$c"
    none=${NONE[$c]}; trig=${TRIGGERS[$c]}; logi=${LOGICAL[$c]:-}
    printf '%-24s %-12s %-12s %-12s %-16s %-16s %s\n' "$clients clients, $rows row(s)/tx" "$none" "$trig" "${logi:--}" \
        "$(awk -v a="$trig" -v b="$none" 'BEGIN { printf "%.0f%%", a / b * 100 }')" \
        "$([ -n "$logi" ] && awk -v a="$logi" -v b="$none" 'BEGIN { printf "%.0f%%", a / b * 100 }' || echo -)" "${TRAIL[$c]:--}"
done
cleanup
SERVICE=
drop_database
