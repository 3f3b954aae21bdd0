package io.fluxgate.changes.capture.wal;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import io.fluxgate.changes.ChangeStreamProperties;
import io.fluxgate.support.IntegrationTest;
import io.fluxgate.support.LogicalDecoding;
import io.fluxgate.support.Tx;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.r2dbc.spi.ConnectionFactory;
import io.r2dbc.spi.ConnectionFactoryOptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.r2dbc.core.DatabaseClient;
import org.springframework.test.context.TestPropertySource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Switching capture modes under writers, both ways, on one database: the logical leader of this
 * service stops and a replica in trigger mode takes over (triggers on, the slot drained and
 * dropped); then the logical one comes back (slot first, triggers off once it leads). Every post
 * written throughout, by writers that never pause, is logged exactly once.
 */
// A context of its own (the batch size only sets it apart): this test stops and starts its capture.
@TestPropertySource(properties = {LogicalDecoding.LOGICAL, "fluxgate.changes.capture.batch-rows=499"})
class CaptureModeSwitchTest extends IntegrationTest {

    @Autowired
    WalCapture capture;

    @Autowired
    ConnectionFactoryOptions postgresConnectionOptions;

    @Autowired
    CaptureProperties properties;

    @Autowired
    ChangeStreamProperties stream;

    @Autowired
    ConnectionFactory connections;

    @Autowired
    DatabaseClient db;

    @BeforeAll
    static void logicalDecodingAvailable() {
        LogicalDecoding.assumeAvailable();
    }

    @Test
    void switchingModesUnderWritersLogsEveryWriteOnce() throws Exception {
        Account author = newUser("Switch");
        await().atMost(Duration.ofSeconds(30)).until(() -> enabledTriggers() == 0);
        AtomicBoolean writing = new AtomicBoolean(true);
        AtomicInteger written = new AtomicInteger();
        ExecutorService writers = Executors.newFixedThreadPool(4);
        List<Future<?>> running = java.util.stream.IntStream.range(0, 4).<Future<?>>mapToObj(w -> writers.submit(() -> {
            while (writing.get()) {
                // One post per transaction, and one that also touches users (a multi-table transaction).
                try (Tx tx = Tx.begin(connections)) {
                    tx.insertPost(author.id(), "switch");
                    tx.execute("UPDATE users SET bio = md5(random()::text) WHERE id = $1", author.id());
                    tx.commit();
                }
                written.incrementAndGet();
            }
            return null;
        })).toList();

        await().atMost(Duration.ofSeconds(30)).until(() -> written.get() > 50);
        try {
            switchBothWays(written);
        } finally {
            writing.set(false);
            if (!capture.isRunning()) {
                capture.start();
            }
        }
        for (Future<?> writer : running) {
            writer.get();
        }
        writers.shutdown();

        long posts = count("SELECT count(*) AS n FROM posts WHERE author_id = " + author.id());
        await().atMost(Duration.ofSeconds(60)).until(() -> count("SELECT count(*) AS n FROM change_log WHERE table_name = 'posts'"
                + " AND operation = 'INSERT' AND (row_data ->> 'author_id')::bigint = " + author.id()) >= posts);
        assertThat(count("SELECT count(*) AS n FROM (SELECT row_data ->> 'id' FROM change_log WHERE table_name = 'posts'"
                + " AND operation = 'INSERT' GROUP BY 1 HAVING count(*) > 1) repeated")).as("posts logged twice").isZero();
        assertThat(count("SELECT count(*) AS n FROM change_log WHERE table_name = 'posts' AND operation = 'INSERT'"
                + " AND (row_data ->> 'author_id')::bigint = " + author.id())).isEqualTo(posts);
        // Each writer's transaction is logged whole, by one mode: its post and its user update together.
        assertThat(count("SELECT count(*) AS n FROM (SELECT l.tx_id FROM change_log l WHERE l.channel IN ('post_changes', 'user_changes')"
                + " AND (l.row_data ->> 'author_id')::bigint = " + author.id() + " GROUP BY l.tx_id) t"
                + " WHERE NOT EXISTS (SELECT 1 FROM change_log u WHERE u.tx_id = t.tx_id AND u.table_name = 'users')"))
                .as("transactions logged without their user update").isZero();
    }

    /** This service's logical leader stops, a trigger-mode replica takes over, then the logical one comes back. */
    private void switchBothWays(AtomicInteger written) {
        capture.stop();
        CaptureProperties triggers = new CaptureProperties(CaptureProperties.Mode.TRIGGERS, properties.slot(),
                properties.publication(), properties.statusInterval(), properties.batchRows(), properties.batchBytes(),
                properties.batchDelay(), properties.maxLag());
        WalCapture triggerReplica = new WalCapture(postgresConnectionOptions, triggers, stream,
                new CaptureMetrics(new SimpleMeterRegistry()));
        triggerReplica.start();
        try {
            await().atMost(Duration.ofSeconds(60)).until(() -> enabledTriggers() == 4 && !slotExists());
            int switched = written.get();
            await().atMost(Duration.ofSeconds(30)).until(() -> written.get() > switched + 50);
        } finally {
            triggerReplica.stop();
        }
        capture.start();
        await().atMost(Duration.ofSeconds(60)).until(() -> enabledTriggers() == 0 && slotExists());
        int back = written.get();
        await().atMost(Duration.ofSeconds(30)).until(() -> written.get() > back + 50);
    }

    private long enabledTriggers() {
        return count("SELECT count(*) AS n FROM pg_trigger WHERE tgfoid = 'change_log_capture'::regproc AND tgenabled <> 'D'");
    }

    private boolean slotExists() {
        return count("SELECT count(*) AS n FROM pg_replication_slots WHERE slot_name = '" + capture.slot() + "'") == 1;
    }

    private long count(String sql) {
        return db.sql(sql).map(row -> row.get("n", Long.class)).one().block();
    }
}
