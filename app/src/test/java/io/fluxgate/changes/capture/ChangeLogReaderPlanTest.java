package io.fluxgate.changes.capture;

import java.util.ArrayList;
import java.util.List;

import io.fluxgate.changes.hub.ChangeEvent;
import io.fluxgate.changes.hub.ChangeFrames;
import io.fluxgate.changes.hub.Position;
import io.fluxgate.support.IntegrationTest;
import io.fluxgate.support.Tx;
import io.r2dbc.spi.ConnectionFactory;
import org.junit.jupiter.api.Test;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.r2dbc.core.DatabaseClient;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The listener reads everything after a position on every wake-up, through a prepared statement;
 * after five runs PostgreSQL may keep a generic plan, made without the position's value. That plan
 * must still walk the indexes from the position, not read the whole log (which it did, with a real
 * log, when the read was a plain join: a hash join over every entry, on every commit).
 */
class ChangeLogReaderPlanTest extends IntegrationTest {

    @Autowired
    ConnectionFactory connections;

    @Autowired
    DatabaseClient db;

    @Autowired
    ChangeFrames frames;

    /**
     * Pages of two read from the last entry of a commit: the first commit of each page has nothing
     * left, so a page must take one commit more than it asks rows for, or it comes back short and
     * reads as the end of the log.
     */
    @Test
    void readingPageByPageFromTheEndOfACommitMissesNothing() {
        Account author = newUser("Pager");
        List<Long> posts = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            posts.add(Tx.commitPost(connections, author.id(), "page " + i));
        }
        posts.forEach(post -> awaitInsertPublished("posts", post));
        Position first = insertPosition("posts", posts.get(0));
        List<Long> read = new ChangeLogReader(db, frames, 2, 1 << 20).after(first, ChangeLog.Filter.EVERYTHING)
                .map(ChangeEvent::data)
                .filter(data -> data.path("authorId").asLong() == author.id())
                .map(data -> data.path("id").asLong())
                .collectList().block();
        assertThat(read).containsExactlyElementsOf(posts.subList(1, posts.size()));
    }

    @Test
    void theGenericPlanOfReadingEverythingAfterAPositionWalksTheIndexes() {
        // A long log, in a transaction that is rolled back: no listener ever sees these entries.
        try (Tx tx = Tx.begin(connections)) {
            tx.execute("INSERT INTO change_commit (commit_seq, tx_id) SELECT 4000000000 + g, (4000000000 + g)::text::xid8"
                    + " FROM generate_series(1, 20000) g");
            tx.execute("INSERT INTO change_log (tx_id, channel, table_name, operation, row_data)"
                    + " SELECT (4000000000 + g)::text::xid8, 'post_changes', 'posts', 'INSERT', '{}'"
                    + " FROM generate_series(1, 20000) g");
            tx.execute("ANALYZE change_log");
            tx.execute("ANALYZE change_commit");
            tx.execute("SET LOCAL plan_cache_mode = force_generic_plan");
            // As a planner that prefers hashing would (as it did with a real log): the plain join then
            // read the whole log; the read must look each commit's entries up all the same.
            tx.execute("SET LOCAL enable_nestloop = off");
            // Prepared from a DO block, whose body the driver does not read for parameters of its own.
            String name = "log_read_" + System.nanoTime();
            tx.execute("DO $do$ BEGIN EXECUTE 'PREPARE " + name + " (bigint, bigint, int) AS ' || $q$"
                    + ChangeLogReader.SELECT_ALL + ChangeLogReader.ORDER + "$q$; END $do$");
            try {
                String plan = tx.value("EXPLAIN (FORMAT JSON) EXECUTE " + name + " (4000019990, 0, 500)", String.class);
                assertThat(plan).contains("change_commit_pkey").contains("change_log_tx_id_idx").doesNotContain("Seq Scan");
            } finally {
                tx.execute("DEALLOCATE " + name);
            }
        } finally {
            // ANALYZE's row counts are kept even when its transaction rolls back: count the real tables again.
            db.sql("ANALYZE change_log, change_commit").then().block();
        }
    }
}
