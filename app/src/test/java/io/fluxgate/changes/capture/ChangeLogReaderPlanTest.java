package io.fluxgate.changes.capture;

import io.fluxgate.support.IntegrationTest;
import io.fluxgate.support.Tx;
import io.r2dbc.spi.ConnectionFactory;
import org.junit.jupiter.api.Test;

import org.springframework.beans.factory.annotation.Autowired;

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
        }
    }
}
