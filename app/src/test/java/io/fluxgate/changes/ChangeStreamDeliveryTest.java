package io.fluxgate.changes;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;

import io.fluxgate.changes.capture.ChangeListener;
import io.fluxgate.changes.capture.ChangeLogRetention;
import io.fluxgate.changes.hub.Position;
import io.fluxgate.support.IntegrationTest;
import io.fluxgate.support.Tx;
import io.fluxgate.support.WsClient;
import io.r2dbc.spi.ConnectionFactory;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.r2dbc.core.DatabaseClient;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** Delivery guarantees: commit order, exactly once, across listener failures and reconnects. */
class ChangeStreamDeliveryTest extends IntegrationTest {

    @LocalServerPort
    int port;

    @Autowired
    ConnectionFactory connections;

    @Autowired
    DatabaseClient db;

    @Autowired
    ChangeStreamMetrics metrics;

    @Test
    void aLaterTransactionThatCommitsFirstIsDeliveredFirst() {
        Account author = newUser("Racer");
        try (WsClient ws = WsClient.connect(port, author.token()); Tx first = Tx.begin(connections);
                Tx second = Tx.begin(connections)) {
            first.insertPost(author.id(), "took the lower sequence");
            second.insertPost(author.id(), "committed first");
            second.commit();
            assertThat(title(ws.next())).isEqualTo("committed first");
            first.commit();
            assertThat(title(ws.next())).isEqualTo("took the lower sequence");
            ws.assertQuietFor(Duration.ofMillis(300));
        }
    }

    /** A commit that finished before another began must be delivered before it, at every client. */
    record Commit(String writer, int number, List<String> titles, long startedCommit, long committed) {
    }

    @Test
    void concurrentWritersHoldingTransactionsOpenProduceEveryEventOnceInCommitOrder() throws Exception {
        Account author = newUser("Writers");
        Account watcher = newUser("Watcher");
        Account admin = admin();
        int writers = 8;
        int transactionsEach = 20;
        try (WsClient authorWs = WsClient.connect(port, author.token());
                WsClient watcherWs = WsClient.connect(port, watcher.token());
                WsClient adminWs = WsClient.connect(port, admin.token())) {
            watcherWs.subscribe("post_changes");
            adminWs.subscribe("post_changes");
            ExecutorService pool = Executors.newFixedThreadPool(writers);
            List<Future<List<Commit>>> results = new ArrayList<>();
            for (int w = 0; w < writers; w++) {
                String writer = "w" + w;
                results.add(pool.submit(() -> write(author.id(), writer, transactionsEach)));
            }
            List<Commit> commits = new ArrayList<>();
            for (Future<List<Commit>> result : results) {
                commits.addAll(result.get());
            }
            pool.shutdown();
            int expected = commits.stream().mapToInt(commit -> commit.titles().size()).sum();

            for (WsClient ws : List.of(authorWs, watcherWs, adminWs)) {
                List<String> received = ws.next(expected).stream().map(ChangeStreamDeliveryTest::title).toList();
                assertThat(received).doesNotHaveDuplicates().hasSize(expected);
                assertThat(received).containsExactlyInAnyOrderElementsOf(
                        commits.stream().flatMap(commit -> commit.titles().stream()).toList());
                assertCommitOrder(received, commits);
                ws.assertQuietFor(Duration.ofMillis(200));
            }
        }
    }

    private List<Commit> write(long authorId, String writer, int transactions) throws InterruptedException {
        List<Commit> done = new ArrayList<>();
        ThreadLocalRandom random = ThreadLocalRandom.current();
        for (int n = 0; n < transactions; n++) {
            List<String> titles = new ArrayList<>();
            try (Tx tx = Tx.begin(connections)) {
                int rows = 1 + random.nextInt(3);
                for (int k = 0; k < rows; k++) {
                    String title = writer + "-" + n + "-" + k;
                    tx.insertPost(authorId, title);
                    titles.add(title);
                }
                if (random.nextInt(3) == 0) {
                    Thread.sleep(random.nextInt(30)); // holds its sequence numbers while others commit
                }
                long started = System.nanoTime();
                tx.commit();
                done.add(new Commit(writer, n, titles, started, System.nanoTime()));
            }
        }
        return done;
    }

    private static void assertCommitOrder(List<String> received, List<Commit> commits) {
        Map<String, Integer> index = new HashMap<>();
        for (int i = 0; i < received.size(); i++) {
            index.put(received.get(i), i);
        }
        for (Commit commit : commits) {
            // Rows of one transaction arrive together, in the order they were written.
            List<Integer> positions = commit.titles().stream().map(index::get).toList();
            for (int i = 1; i < positions.size(); i++) {
                assertThat(positions.get(i)).isEqualTo(positions.get(i - 1) + 1);
            }
        }
        for (Commit a : commits) {
            for (Commit b : commits) {
                if (a.committed() < b.startedCommit()) {
                    assertThat(index.get(a.titles().get(0)))
                            .as("%s committed before %s started committing", a.titles(), b.titles())
                            .isLessThan(index.get(b.titles().get(0)));
                }
            }
        }
    }

    @Test
    void killingTheListenerConnectionLosesAndDuplicatesNothing() throws Exception {
        Account author = newUser("Survivor");
        double reconnectsBefore = metrics.listenerReconnects.count();
        int total = 300;
        try (WsClient ws = WsClient.connect(port, author.token())) {
            ExecutorService writer = Executors.newSingleThreadExecutor();
            Future<?> writing = writer.submit(() -> {
                for (int i = 0; i < total; i++) {
                    Tx.commitPost(connections, author.id(), "survivor-" + i);
                }
                return null;
            });
            // Kill this service's listener connection until it has reconnected three times. Counting
            // our own reconnects, not the backends killed: other test contexts on this database have
            // listeners of the same name.
            await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(100)).until(() -> {
                db.sql("SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity"
                                + " WHERE application_name = $1 AND datname = current_database()")
                        .bind(0, ChangeListener.APPLICATION_NAME).map(row -> row.get("n", Long.class)).one().block();
                return metrics.listenerReconnects.count() >= reconnectsBefore + 3;
            });
            writing.get();
            writer.shutdown();
            List<String> received = ws.next(total).stream().map(ChangeStreamDeliveryTest::title).toList();
            List<String> expected = new ArrayList<>();
            for (int i = 0; i < total; i++) {
                expected.add("survivor-" + i);
            }
            assertThat(received).containsExactlyElementsOf(expected);
            ws.assertQuietFor(Duration.ofMillis(300));
        }
        assertThat(metrics.listenerReconnects.count()).isGreaterThanOrEqualTo(reconnectsBefore + 3);
    }

    @Test
    void aClientThatReconnectsWithResumeFromGetsExactlyWhatItMissedThenLiveEvents() {
        Account author = newUser("Returning");
        String cursor;
        try (WsClient ws = WsClient.connect(port, author.token())) {
            ws.subscribe("post_changes");
            commitPost(author, "seen");
            JsonNode seen = ws.next();
            assertThat(title(seen)).isEqualTo("seen");
            cursor = seen.path("cursor").asString();
        }
        List<String> missed = new ArrayList<>();
        try (WsClient observer = WsClient.connect(port, newUser("Observer").token()).subscribe("post_changes")) {
            for (int i = 0; i < 5; i++) {
                missed.add("missed-" + i);
                commitPost(author, "missed-" + i);
            }
            // Once published: a session opened earlier would get them live too, as the author's own.
            observer.next(5);
        }
        try (WsClient ws = WsClient.connect(port, author.token())) {
            ws.resume("post_changes", cursor);
            assertThat(ws.next(5)).extracting(ChangeStreamDeliveryTest::title).containsExactlyElementsOf(missed);
            commitPost(author, "live");
            assertThat(title(ws.next())).isEqualTo("live");
            ws.assertQuietFor(Duration.ofMillis(300));
        }
    }

    @Test
    void resumingFromBeforeTheRetainedLogAsksForAResync(@Autowired ChangeLogRetention retention) {
        Account author = newUser("Late");
        String cursor;
        // Subscribed first: the ack says the session has started, so the post comes after its start
        // (a session starts a moment after the handshake, and a post committed before it is not sent).
        try (WsClient ws = WsClient.connect(port, author.token()).subscribe("post_changes")) {
            commitPost(author, "about to be pruned");
            cursor = ws.next().path("cursor").asString();
        }
        retention.prune(java.time.Instant.now().plusSeconds(60), 0).block();
        try (WsClient ws = WsClient.connect(port, author.token())) {
            ws.resume("post_changes", cursor);
            assertThat(ws.next().path("type").asString()).isEqualTo("resync_required");
            commitPost(author, "after the resync");
            assertThat(title(ws.next())).isEqualTo("after the resync");
        }
        try (WsClient ws = WsClient.connect(port, author.token())) {
            ws.resume("post_changes", new Position(Long.MAX_VALUE / 2, 1).toCursor());
            assertThat(ws.next().path("type").asString()).isEqualTo("resync_required");
        }
    }

    private long commitPost(Account author, String title) {
        return Tx.commitPost(connections, author.id(), title);
    }

    static String title(JsonNode frame) {
        return frame.path("data").path("title").asString();
    }
}
