#!/usr/bin/env bash
# Capture overhead: insert throughput into posts with the change-log trigger (log row + NOTIFY +
# commit-order lock) against the same inserts with the trigger disabled, measured by pgbench on a
# scratch database migrated with migrations/. Prints one line per case.
#   bash bench/capture-overhead.sh            # 15 s per case
#   SECONDS_PER_CASE=5 bash bench/capture-overhead.sh
set -euo pipefail
cd "$(dirname "$0")/.."

DB=fluxgate_capture
T=${SECONDS_PER_CASE:-15}
export PGPASSWORD=${FLUXGATE_DB_PASSWORD:-}
PSQL=(psql -h 127.0.0.1 -U postgres -v ON_ERROR_STOP=1 -q)
"${PSQL[@]}" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB" 2>/dev/null
for migration in $(ls migrations/V*.sql | sort -V); do
    "${PSQL[@]}" -d "$DB" -f "$migration"
done
"${PSQL[@]}" -d "$DB" -c "INSERT INTO users (name, email, password) VALUES ('Bench', 'bench@example.com', 'x')"

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
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

printf '%-28s %-16s %-16s %-10s\n' "case" "rows/s captured" "rows/s plain" "overhead"
for clients in 1 8; do
    for script in one ten; do
        rows=1; [ "$script" = ten ] && rows=10
        "${PSQL[@]}" -d "$DB" -c "ALTER TABLE posts ENABLE TRIGGER posts_change_log"
        with=$(rows_per_second "$clients" "$script.sql" "$rows")
        "${PSQL[@]}" -d "$DB" -c "ALTER TABLE posts DISABLE TRIGGER posts_change_log"
        without=$(rows_per_second "$clients" "$script.sql" "$rows")
        overhead=$(awk -v a="$with" -v b="$without" 'BEGIN { printf "%.1f%%", (1 - a / b) * 100 }')
        printf '%-28s %-16s %-16s %-10s\n' "$clients clients, $rows row(s)/tx" "$with" "$without" "$overhead"
    done
done
"${PSQL[@]}" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)"
