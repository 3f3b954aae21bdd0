#!/usr/bin/env bash
# The most heap one ordinary user can make a replica hold through the change stream: one user opens
# its 20 sessions (WebSocket, subscribed to post_changes) and stops reading on all of them, then
# posts of 20,000 characters are written; the service's live heap (after a full GC) is read before
# and after. The service runs with the pod's heap (768 MiB: 75% of the 1 GiB limit).
#   bash bench/heap-one-user.sh                  # 9,000 posts
#   BENCH_POSTS=3000 bash bench/heap-one-user.sh
#   FLUXGATE_JAR=/path/to/other.jar bash bench/heap-one-user.sh   # the same against another build
set -euo pipefail
cd "$(dirname "$0")/.."

DB=fluxgate_bench_heap
PORT=${BENCH_PORT:-8089}
POSTS=${BENCH_POSTS:-9000}
SESSIONS=20
OUT=bench/target/heap
mkdir -p "$OUT"
export PGPASSWORD=${FLUXGATE_DB_PASSWORD:-}
psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB" >/dev/null
[ -n "${FLUXGATE_JAR:-}" ] || ./mvnw -B -q -DskipTests -pl app package
JAR=$(ls ${FLUXGATE_JAR:-app/target/fluxgate-app-*.jar})

# Pings every 10 minutes: the stalled clients are not closed as dead while the posts go out.
FLUXGATE_DB_NAME=$DB PORT=$PORT FLUXGATE_SECURITY_JWT_SECRET=bench-secret-0123456789abcdefghijklmnop \
    FLUXGATE_WARMUP_MAX_DURATION=0s FLUXGATE_CHANGES_PING_INTERVAL=10m \
    java -Xms768m -Xmx768m -jar "$JAR" > "$OUT/server.log" 2>&1 &
SERVER=$!
CLIENTS=
trap 'kill $SERVER $CLIENTS 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://localhost:$PORT/actuator/health/readiness")" = 200 ] && break
    sleep 0.2
done

email="heap-$RANDOM@example.com"
curl -sf -X POST "http://localhost:$PORT/api/auth/register" -H 'Content-Type: application/json' \
    -d "{\"name\":\"Heap User\",\"email\":\"$email\",\"password\":\"bench-Passw0rd\"}" > "$OUT/user.json"
USER_ID=$(sed -n 's/^{"id":\([0-9]*\).*/\1/p' "$OUT/user.json")
TOKEN=$(curl -sf -X POST "http://localhost:$PORT/api/auth/login" -H 'Content-Type: application/json' \
    -d "{\"email\":\"$email\",\"password\":\"bench-Passw0rd\"}" | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')

live_heap_mib() {
    jcmd "$SERVER" GC.run >/dev/null
    jcmd "$SERVER" GC.heap_info | awk '/used/ { for (i = 1; i <= NF; i++) if ($i == "used") { v = $(i + 1); sub("K,?", "", v); print int(v / 1024); exit } }'
}

# The stalled clients: each subscribes, then never reads again (a 4 KiB receive buffer).
python3 - "$PORT" "$TOKEN" "$SESSIONS" > "$OUT/clients.log" 2>&1 <<'PY' &
import os, socket, sys, time
port, token, sessions = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
def frame(text):
    payload, mask = text.encode(), os.urandom(4)
    return bytes([0x81, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
held = []
for _ in range(sessions):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    s.sendall(("GET /ws/changes HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
               "Authorization: Bearer " + token + "\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    s.sendall(frame('{"type":"subscribe","channel":"post_changes"}'))
    held.append(s)
print("stalled", len(held), flush=True)
time.sleep(3600)
PY
CLIENTS=$!
for _ in $(seq 1 100); do grep -q stalled "$OUT/clients.log" 2>/dev/null && break; sleep 0.2; done
sleep 2
BEFORE=$(live_heap_mib)

# The posts, as the user's own, in batches so the listener keeps up as it would with real writers.
for ((done = 0; done < POSTS; done += 500)); do
    psql -h 127.0.0.1 -U postgres -d $DB -qc "INSERT INTO posts (author_id, title, body)
        SELECT $USER_ID, 'heap ' || g, repeat(md5(g::text), 625) FROM generate_series($done + 1, $done + 500) g" >/dev/null
done
# Until the listener has published the last one.
for _ in $(seq 1 300); do
    [ "$(curl -s "http://localhost:$PORT/actuator/prometheus" | awk '/^fluxgate_changes_events_in_total/ { print int($2) }')" -ge "$POSTS" ] && break
    sleep 0.5
done
AFTER=$(live_heap_mib)
echo "posts: $POSTS of 20000 characters; sessions of one user, not reading: $SESSIONS"
echo "live heap after a full GC: before ${BEFORE} MiB, after ${AFTER} MiB, grown by $((AFTER - BEFORE)) MiB"
