package io.fluxgate.changes;

import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import io.fluxgate.changes.delivery.ChangeSnapshots;
import io.fluxgate.changes.hub.Position;
import io.fluxgate.support.IntegrationTest;
import io.fluxgate.support.RawWsClient;
import io.fluxgate.support.WsClient;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.r2dbc.core.DatabaseClient;

import static org.assertj.core.api.Assertions.assertThat;

/** Snapshot-then-stream: the rows, then every later change, none missing and none twice, while writers run. */
class ChangeSnapshotTest extends IntegrationTest {

    private static final Duration WAIT = Duration.ofSeconds(30);

    @LocalServerPort
    int port;

    @Autowired
    DatabaseClient db;

    @Autowired
    ChangeSnapshots snapshots;

    @Test
    void theSnapshotAndTheChangesAfterItAddUpToTheTableWhileWritersRunThroughout() throws Exception {
        snapshotAndChangesAddUp(1);
    }

    /** Several writers commit concurrently, so commits become visible in an order of their own. */
    @Test
    void theSnapshotAndTheChangesAfterItAddUpToTheTableWhileFourWritersRun() throws Exception {
        snapshotAndChangesAddUp(4);
    }

    private void snapshotAndChangesAddUp(int writers) throws Exception {
        Account reader = newUser("Snapshot Reader");
        Account author = newUser("Busy Author");
        for (int i = 0; i < 1200; i++) {
            insert(author.id(), "before " + i);
        }
        AtomicBoolean writing = new AtomicBoolean(true);
        AtomicInteger written = new AtomicInteger();
        List<Thread> writerThreads = new java.util.ArrayList<>();
        for (int w = 0; w < writers; w++) {
            Thread writer = new Thread(() -> {
                while (writing.get()) {
                    if (ThreadLocalRandom.current().nextBoolean()) {
                        insert(author.id(), "during " + written.incrementAndGet());
                    } else {
                        db.sql("UPDATE posts SET title = 'edited ' || id WHERE id = (SELECT id FROM posts"
                                        + " WHERE author_id = $1 ORDER BY random() LIMIT 1)")
                                .bind(0, author.id()).then().block(WAIT);
                        written.incrementAndGet();
                    }
                }
            });
            writer.start();
            writerThreads.add(writer);
        }
        Map<Long, String> state = new HashMap<>();
        try (WsClient ws = WsClient.connect(port, reader.token())) {
            ws.send("{\"type\":\"subscribe\",\"channel\":\"post_changes\",\"snapshot\":true,"
                    + "\"filter\":{\"authorId\":{\"eq\":" + author.id() + "}},\"columns\":[\"title\"]}");
            assertThat(ws.next().path("type").asString()).isEqualTo("subscribed");
            JsonNode frame = ws.next();
            int pages = 0;
            while (frame.path("type").asString().equals("snapshot")) {
                pages++;
                assertThat(frame.path("data").size()).isBetween(1, ChangeSnapshots.PAGE);
                for (JsonNode row : frame.path("data")) {
                    assertThat(row.propertyNames()).containsExactlyInAnyOrder("id", "title");
                    assertThat(state.put(row.path("id").asLong(), row.path("title").asString())).as("a row twice").isNull();
                }
                frame = ws.next();
            }
            assertThat(pages).isGreaterThanOrEqualTo(3);
            assertThat(frame.path("type").asString()).isEqualTo("snapshot_end");
            Position reflected = Position.fromCursor(frame.path("cursor").asString());

            // Let the writers run on past the snapshot, then stop them and mark the end.
            int atEnd = written.get();
            org.awaitility.Awaitility.await().atMost(WAIT).until(() -> written.get() >= atEnd + 50);
            writing.set(false);
            for (Thread writer : writerThreads) {
                writer.join(WAIT.toMillis());
            }
            long sentinel = insert(author.id(), "sentinel");

            Position last = reflected;
            while (true) {
                JsonNode change = ws.next();
                assertThat(change.path("type").asString()).isEqualTo("database_change");
                Position at = Position.fromCursor(change.path("cursor").asString());
                assertThat(at).as("after the snapshot and in commit order, each once").isGreaterThan(last);
                last = at;
                long id = change.path("data").path("id").asLong();
                switch (change.path("operation").asString()) {
                    case "INSERT" -> assertThat(state.put(id, change.path("data").path("title").asString()))
                            .as("an insert the snapshot already held").isNull();
                    case "UPDATE" -> assertThat(state.put(id, change.path("data").path("title").asString()))
                            .as("an update of a row never seen").isNotNull();
                    default -> state.remove(id);
                }
                if (id == sentinel) {
                    break;
                }
            }
        } finally {
            writing.set(false);
            for (Thread writer : writerThreads) {
                writer.join(WAIT.toMillis());
            }
        }
        Map<Long, String> table = db.sql("SELECT id, title FROM posts WHERE author_id = $1").bind(0, author.id())
                .map(row -> Map.entry(row.get("id", Long.class), row.get("title", String.class)))
                .all().collectMap(Map.Entry::getKey, Map.Entry::getValue).block(WAIT);
        assertThat(state).isEqualTo(table);
    }

    @Test
    void aSnapshotShowsANonAdminOnlyItsOwnRowsOfARestrictedChannel() {
        Account me = newUser("Only Me");
        newUser("Not Me");
        try (WsClient ws = WsClient.connect(port, me.token())) {
            ws.send("{\"type\":\"subscribe\",\"channel\":\"user_changes\",\"id\":\"me\",\"snapshot\":true}");
            assertThat(ws.next().path("type").asString()).isEqualTo("subscribed");
            JsonNode page = ws.next();
            assertThat(page.path("type").asString()).isEqualTo("snapshot");
            assertThat(page.path("id").asString()).isEqualTo("me");
            List<JsonNode> rows = page.path("data").valueStream().toList();
            assertThat(rows).hasSize(1);
            assertThat(rows.get(0).path("id").asLong()).isEqualTo(me.id());
            assertThat(page.toString()).doesNotContain("password").doesNotContain("tokenVersion");
            assertThat(ws.next().path("type").asString()).isEqualTo("snapshot_end");
        }
    }

    /**
     * One user with six sessions whose snapshots never drain (clients that do not read) holds one of
     * the replica's four snapshot slots, not all of them: another user's small snapshots all succeed.
     */
    @Test
    void oneUserCannotTakeEverySnapshotSlot() throws Exception {
        Account hog = newUser("Snapshot Hog");
        Account other = newUser("Snapshot Neighbour");
        // Far more than a stalled client's socket buffers take in, so its snapshot cannot finish.
        db.sql("INSERT INTO posts (author_id, title, body) SELECT $1, 'big ' || g, repeat('x', 20000)"
                + " FROM generate_series(1, 1000) g").bind(0, hog.id()).then().block(WAIT);
        List<RawWsClient> stalled = new java.util.ArrayList<>();
        try {
            for (int i = 0; i < 6; i++) {
                RawWsClient ws = RawWsClient.connect(port, hog.token(), 4 * 1024);
                ws.sendText("{\"type\":\"subscribe\",\"channel\":\"post_changes\",\"snapshot\":true}");
                stalled.add(ws);
            }
            org.awaitility.Awaitility.await().atMost(WAIT).until(() -> snapshots.running() == 1);
            try (WsClient ws = WsClient.connect(port, other.token())) {
                for (int i = 0; i < 8; i++) {
                    ws.send("{\"type\":\"subscribe\",\"channel\":\"user_changes\",\"id\":\"s" + i
                            + "\",\"snapshot\":true}");
                    assertThat(ws.next().path("type").asString()).isEqualTo("subscribed");
                    assertThat(ws.next().path("type").asString()).as("snapshot %d", i).isEqualTo("snapshot");
                    assertThat(ws.next().path("type").asString()).isEqualTo("snapshot_end");
                }
            }
            // The neighbour's last slot is given back just after its snapshot_end went out.
            org.awaitility.Awaitility.await().atMost(WAIT).until(() -> snapshots.running() == 1);
        } finally {
            for (RawWsClient ws : stalled) {
                ws.abort();
            }
            db.sql("DELETE FROM posts WHERE author_id = $1").bind(0, hog.id()).then().block(WAIT);
        }
        // Slots of sessions that went away are given back.
        org.awaitility.Awaitility.await().atMost(WAIT).until(() -> snapshots.running() == 0);
    }

    private long insert(long authorId, String title) {
        return db.sql("INSERT INTO posts (author_id, title, body) VALUES ($1, $2, 'b') RETURNING id")
                .bind(0, authorId).bind(1, title)
                .map(row -> row.get("id", Long.class)).one().block(WAIT);
    }
}
