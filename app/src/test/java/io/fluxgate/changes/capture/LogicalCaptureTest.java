package io.fluxgate.changes.capture;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import io.fluxgate.changes.capture.wal.WalCapture;
import io.fluxgate.changes.hub.ChangeHub;
import io.fluxgate.changes.hub.Position;
import io.fluxgate.support.IntegrationTest;
import io.fluxgate.support.LogicalDecoding;
import io.fluxgate.support.Tx;
import io.fluxgate.support.WsClient;
import io.micrometer.core.instrument.MeterRegistry;
import io.r2dbc.spi.ConnectionFactory;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.r2dbc.core.DatabaseClient;
import org.springframework.test.context.TestPropertySource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Capture from the WAL against the real server: writers run no trigger, the capture leader logs
 * the same rows the triggers would, and it survives its own death, a slot dropped from outside,
 * huge transactions and huge rows without losing or repeating anything.
 */
@TestPropertySource(properties = LogicalDecoding.LOGICAL)
class LogicalCaptureTest extends IntegrationTest {

    private static final String ROWS = "SELECT c.commit_seq, l.channel, l.table_name, l.operation, l.user_ids::text AS users,"
            + " l.row_data::text AS data FROM change_log l JOIN change_commit c USING (tx_id)"
            + " WHERE c.commit_seq > $1 AND $2 = ANY (l.user_ids) ORDER BY c.commit_seq, l.id";

    @LocalServerPort
    int port;

    @Autowired
    DatabaseClient db;

    @Autowired
    ConnectionFactory connections;

    @Autowired
    ChangeHub hub;

    @Autowired
    WalCapture capture;

    @Autowired
    MeterRegistry registry;

    @BeforeAll
    static void logicalDecodingAvailable() {
        LogicalDecoding.assumeAvailable();
    }

    @Test
    void writersRunNoCaptureTrigger() {
        await().atMost(Duration.ofSeconds(30)).until(() -> enabledCaptureTriggers() == 0);
        Account author = newUser("Quiet");
        long post = Tx.commitPost(connections, author.id(), "decoded, not triggered");
        awaitInsertPublished("posts", post);
        assertThat(db.sql("SELECT source_lsn IS NOT NULL AS decoded FROM change_commit c JOIN change_log l USING (tx_id)"
                        + " WHERE l.table_name = 'posts' AND (l.row_data ->> 'id')::bigint = $1")
                .bind(0, post).map(row -> row.get("decoded", Boolean.class)).one().block()).isTrue();
    }

    /**
     * The same workload logged by the capture leader (triggers off) and by the triggers (turned on,
     * as during a switch of modes): the same rows, field by field, and each transaction once.
     */
    @Test
    void theLeaderLogsWhatTheTriggersWouldAndNothingTwiceAcrossASwitch() {
        await().atMost(Duration.ofSeconds(30)).until(() -> enabledCaptureTriggers() == 0);
        List<Map<String, Object>> decoded = logged(() -> workload("decoded"));
        setCaptureTriggers(true);
        try {
            List<Map<String, Object>> triggered = logged(() -> workload("triggered"));
            assertThat(triggered).hasSameSizeAs(decoded).hasSize(10);
            assertThat(decoded).allSatisfy(row -> assertThat(String.valueOf(row.get("data"))).doesNotContain("secret-"));
            for (int i = 0; i < decoded.size(); i++) {
                assertThat(normalized(triggered.get(i), "triggered")).as("row %d", i)
                        .isEqualTo(normalized(decoded.get(i), "decoded"));
            }
        } finally {
            setCaptureTriggers(false);
        }
    }

    @Test
    void killingTheCaptureLeaderLosesAndDuplicatesNothing() throws Exception {
        Account author = newUser("Survivor");
        int total = 300;
        try (WsClient ws = WsClient.connect(port, author.token())) {
            ExecutorService writer = Executors.newSingleThreadExecutor();
            Future<?> writing = writer.submit(() -> {
                for (int i = 0; i < total; i++) {
                    Tx.commitPost(connections, author.id(), "survivor-" + i);
                }
                return null;
            });
            // The leader's replication and append connections both: it dies mid-stream three times.
            for (int kill = 0; kill < 3; kill++) {
                await().atMost(Duration.ofSeconds(30)).until(this::leading);
                db.sql("SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity"
                                + " WHERE application_name = $1 AND datname = current_database()")
                        .bind(0, WalCapture.APPLICATION_NAME).map(row -> row.get("n", Long.class)).one().block();
                await().atMost(Duration.ofSeconds(30)).until(() -> !leading());
            }
            writing.get();
            writer.shutdown();
            List<String> received = ws.next(total).stream().map(frame -> frame.path("data").path("title").asString())
                    .toList();
            List<String> expected = new ArrayList<>();
            for (int i = 0; i < total; i++) {
                expected.add("survivor-" + i);
            }
            assertThat(received).containsExactlyElementsOf(expected);
            ws.assertQuietFor(Duration.ofMillis(300));
        }
    }

    @Test
    void aTransactionOfOneHundredThousandRowsIsLoggedWholeUnderOneCommit() {
        Account author = newUser("Bulk");
        long before = hub.head().commitSeq();
        db.sql("INSERT INTO posts (author_id, title, body) SELECT $1, 'bulk-' || n, 'one of many' FROM generate_series(1, 100000) n")
                .bind(0, author.id()).then().block();
        await().atMost(Duration.ofMinutes(2)).until(() -> db.sql("SELECT count(*) AS n, count(DISTINCT c.commit_seq) AS commits"
                        + " FROM change_log l JOIN change_commit c USING (tx_id) WHERE c.commit_seq > $1 AND l.table_name = 'posts'")
                .bind(0, before).map(row -> row.get("n", Long.class) == 100_000 && row.get("commits", Long.class) == 1)
                .one().block());
        assertThat(db.sql("SELECT count(DISTINCT l.row_data ->> 'title') AS n FROM change_log l JOIN change_commit c USING (tx_id)"
                        + " WHERE c.commit_seq > $1 AND l.table_name = 'posts'")
                .bind(0, before).map(row -> row.get("n", Long.class)).one().block()).isEqualTo(100_000L);
    }

    /** A value TOASTed out of line: in the INSERT, and in an UPDATE that left it alone (taken from the old row). */
    @Test
    void aRowLargerThanAMegabyteIsLoggedWhole() {
        db.sql("CREATE TABLE IF NOT EXISTS big_rows (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
                + " author_id BIGINT, note TEXT, payload TEXT)").then().block();
        db.sql("DROP TRIGGER IF EXISTS big_rows_change_log ON big_rows").then().block();
        db.sql("CREATE TRIGGER big_rows_change_log AFTER INSERT OR UPDATE OR DELETE ON big_rows"
                + " FOR EACH ROW EXECUTE FUNCTION change_log_capture('post_changes', 'author_id')").then().block();
        db.sql("ALTER TABLE big_rows DISABLE TRIGGER big_rows_change_log").then().block();
        db.sql("ALTER TABLE big_rows REPLICA IDENTITY FULL").then().block();
        db.sql("ALTER PUBLICATION fluxgate_capture ADD TABLE big_rows").then().block();
        long before = hub.head().commitSeq();
        // Random text, so compression does not make it small: about 2 MB stored out of line.
        db.sql("INSERT INTO big_rows (author_id, note, payload) SELECT 1, 'first',"
                + " string_agg(md5(random()::text), '') FROM generate_series(1, 65536)").then().block();
        db.sql("UPDATE big_rows SET note = 'second'").then().block();
        await().atMost(Duration.ofSeconds(60)).until(() -> db.sql("SELECT count(*) AS n FROM change_log l JOIN change_commit c"
                + " USING (tx_id) WHERE c.commit_seq > $1 AND l.table_name = 'big_rows'").bind(0, before)
                .map(row -> row.get("n", Long.class)).one().block() == 2);
        List<Integer> lengths = db.sql("SELECT length(l.row_data ->> 'payload') AS n, l.row_data ->> 'note' AS note"
                        + " FROM change_log l JOIN change_commit c USING (tx_id) WHERE c.commit_seq > $1"
                        + " AND l.table_name = 'big_rows' ORDER BY l.id").bind(0, before)
                .map(row -> row.get("n", Integer.class)).all().collectList().block();
        assertThat(lengths).containsExactly(65536 * 32, 65536 * 32);
    }

    @Test
    void aSlotDroppedFromOutsideIsRecreatedAndResumingAcrossTheGapAsksForAResync() {
        Account author = newUser("Gap");
        String cursor;
        try (WsClient ws = WsClient.connect(port, author.token())) {
            Tx.commitPost(connections, author.id(), "before the gap");
            cursor = ws.next().path("cursor").asString();
        }
        Position head = hub.head();
        double gaps = registry.get("fluxgate.changes.capture.gaps").counter().count();
        // Stop the leader and drop its slot before it takes the slot again.
        await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(20)).until(() -> {
            db.sql("SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity"
                            + " WHERE application_name = $1 AND datname = current_database()")
                    .bind(0, WalCapture.APPLICATION_NAME).map(row -> row.get("n", Long.class)).one().block();
            return db.sql("SELECT count(pg_drop_replication_slot(slot_name)) AS n FROM pg_replication_slots"
                            + " WHERE slot_name = $1 AND NOT active")
                    .bind(0, capture.slot()).map(row -> row.get("n", Long.class)).one()
                    .onErrorReturn(0L).block() > 0;
        });
        await().atMost(Duration.ofSeconds(30)).until(() -> registry.get("fluxgate.changes.capture.gaps").counter().count() > gaps);
        assertThat(db.sql("SELECT pruned_through FROM change_log_horizon").map(row -> row.get(0, Long.class)).one().block())
                .isGreaterThanOrEqualTo(head.commitSeq());
        try (WsClient ws = WsClient.connect(port, author.token())) {
            ws.resume("post_changes", cursor);
            assertThat(ws.next().path("type").asString()).isEqualTo("resync_required");
            Tx.commitPost(connections, author.id(), "after the gap");
            assertThat(ws.next().path("data").path("title").asString()).isEqualTo("after the gap");
        }
    }

    /**
     * The leader's transaction may take its own id before a transaction it appends later even began,
     * and a transaction is decoded once its commit is flushed, a moment before it is visible: the
     * decoded 32-bit id is widened to the full id nearest the next one, so it is logged under the
     * writer's own full id (what snapshots match their visibility against).
     */
    @Test
    void aDecodedTransactionIsLoggedUnderItsOwnIdWhenTheAppendingTransactionIsOlder() {
        try (Tx appending = Tx.begin(connections); Tx writer = Tx.begin(connections)) {
            long older = appending.value("SELECT pg_current_xact_id()::text::bigint", Long.class);
            long id = writer.value("SELECT pg_current_xact_id()::text::bigint", Long.class);
            writer.commit();
            assertThat(id).isGreaterThan(older);
            assertThat(appending.value("SELECT change_log_widen_xid($1)::text::bigint", Long.class, id & 0xFFFF_FFFFL))
                    .isEqualTo(id);
            assertThat(appending.value("SELECT change_log_widen_xid((n + 5) & 4294967295)::text::bigint - n FROM"
                    + " (SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS n) next", Long.class))
                    .as("an id not yet visible, just past the next one").isEqualTo(5L);
        }
    }

    // ---- helpers

    private boolean leading() {
        return registry.get("fluxgate.changes.capture.leader").gauge().value() == 1
                && db.sql("SELECT count(*) AS n FROM pg_replication_slots WHERE slot_name = $1 AND active")
                        .bind(0, capture.slot()).map(row -> row.get("n", Long.class)).one().block() == 1;
    }

    private long enabledCaptureTriggers() {
        return db.sql("SELECT count(*) AS n FROM pg_trigger WHERE tgfoid = 'change_log_capture'::regproc"
                        + " AND tgenabled <> 'D' AND tgrelid::regclass::text <> 'big_rows'")
                .map(row -> row.get("n", Long.class)).one().block();
    }

    private void setCaptureTriggers(boolean enabled) {
        for (String table : List.of("users", "posts", "accounts", "transfers")) {
            db.sql("ALTER TABLE " + table + (enabled ? " ENABLE" : " DISABLE") + " TRIGGER " + table + "_change_log")
                    .then().block();
        }
    }

    /**
     * Runs {@code work} and returns the change-log rows of the user it made, once the hub has published
     * them all (rows of the same user only: another test's change may still be on its way to the log).
     */
    private List<Map<String, Object>> logged(java.util.function.Supplier<Long> work) {
        long before = hub.head().commitSeq();
        long user = work.get();
        long marker = Tx.commitPost(connections, user, "marker");
        awaitInsertPublished("posts", marker);
        List<Map<String, Object>> rows = db.sql(ROWS).bind(0, before).bind(1, user).fetch().all().collectList().block();
        return rows.subList(0, rows.size() - 1);
    }

    /**
     * A user and a post: insert, an activity-only update (not logged), a rename, a title, a delete;
     * then one transaction over three tables, one of them twice (a deposit with a secret key and a
     * missing related user, and a post between the account's two updates): order within it kept.
     */
    private long workload(String tag) {
        Long user = db.sql("INSERT INTO users (name, email, password) VALUES ($1, $2, 'hash') RETURNING id")
                .bind(0, "Work " + tag).bind(1, tag + "-" + System.nanoTime() + "@example.com")
                .map(row -> row.get("id", Long.class)).one().block();
        Long post = db.sql("INSERT INTO posts (author_id, title, body) VALUES ($1, 'first', 'body') RETURNING id")
                .bind(0, user).map(row -> row.get("id", Long.class)).one().block();
        db.sql("UPDATE users SET last_active = last_active + interval '1 minute' WHERE id = $1").bind(0, user).then().block();
        db.sql("UPDATE users SET name = $1 WHERE id = $2").bind(0, "Renamed " + tag).bind(1, user).then().block();
        db.sql("UPDATE posts SET title = 'second' WHERE id = $1").bind(0, post).then().block();
        db.sql("INSERT INTO accounts (user_id) VALUES ($1)").bind(0, user).then().block();
        db.sql("DELETE FROM posts WHERE id = $1").bind(0, post).then().block();
        try (Tx tx = Tx.begin(connections)) {
            tx.execute("UPDATE accounts SET balance = balance + 5 WHERE user_id = $1", user);
            tx.execute("INSERT INTO transfers (to_user_id, amount, type, idempotency_key) VALUES ($1, 5, 'deposit', $2)",
                    user, "secret-" + tag);
            tx.insertPost(user, "between");
            tx.execute("UPDATE accounts SET balance = balance + 1 WHERE user_id = $1", user);
            tx.commit();
        }
        return user;
    }

    /** The row with what differs between two runs of the workload (ids, times, names) taken out. */
    private static String normalized(Map<String, Object> row, String tag) {
        String data = String.valueOf(row.get("data"))
                .replaceAll("\"(id|author_id|user_id|to_user_id|from_user_id)\": \\d+", "\"$1\": N")
                .replaceAll("\"[0-9T:.+-]{19,}\"", "TIME")
                .replaceAll(tag + "-\\d+@", "EMAIL@")
                .replace(tag, "TAG");
        return row.get("channel") + " " + row.get("table_name") + " " + row.get("operation") + " "
                + String.valueOf(row.get("users")).replaceAll("\\d+", "N") + " " + data;
    }
}
