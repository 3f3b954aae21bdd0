package io.fluxgate.changes.capture.wal;

import java.time.Duration;

import io.fluxgate.changes.capture.ChangeLogReader;
import io.fluxgate.changes.hub.Position;
import reactor.core.publisher.Mono;

import org.springframework.r2dbc.core.DatabaseClient;
import org.springframework.stereotype.Component;

/**
 * The change-log position a database snapshot reflects: every commit at or before it is in the
 * snapshot's rows, none after it.
 *
 * <p>With capture triggers the log is written in the writers' own transactions, so the snapshot sees
 * the log exactly as it sees the tables, and the newest position it sees is the answer. Captured from
 * the WAL, the log trails the tables: a snapshot may see a row whose log entry is not appended yet.
 * So the snapshot notes which transactions it sees ({@code pg_current_snapshot()}) and how far the WAL
 * reached; once the capture leader has logged a commit at or past that point (it logs in commit
 * order) or confirmed the slot past it (an idle database: within a status interval), the position is
 * the newest logged commit whose transaction the snapshot sees. When a commit the snapshot does not see was
 * logged before that one (a transaction whose commit was written but not yet visible when the snapshot
 * was taken: concurrent commits become visible in their own order after the WAL flush they share), no
 * single position is exact: {@link Inverted} asks for a new snapshot, before any row was sent.
 */
@Component
public class SnapshotPosition {

    /** This snapshot cannot be described by one position; take another. */
    public static final class Inverted extends RuntimeException {
        Inverted() {
            super("a commit the snapshot does not see precedes one it sees", null, false, false);
        }
    }

    private static final Duration POLL = Duration.ofMillis(25);

    private static final String SEEN = "SELECT c.commit_seq, (SELECT max(l.id) FROM change_log l WHERE l.tx_id = c.tx_id) AS id"
            + " FROM change_commit c WHERE pg_visible_in_snapshot(c.tx_id, $1::pg_snapshot)"
            + " ORDER BY c.commit_seq DESC LIMIT 1";
    private static final String UNSEEN_BEFORE = "SELECT count(*) AS n FROM change_commit c"
            + " WHERE c.tx_id >= pg_snapshot_xmin($1::pg_snapshot) AND c.commit_seq < $2"
            + " AND NOT pg_visible_in_snapshot(c.tx_id, $1::pg_snapshot)";

    private final DatabaseClient db;
    private final CaptureProperties properties;
    private final WalCapture capture;

    SnapshotPosition(DatabaseClient db, CaptureProperties properties, WalCapture capture) {
        this.db = db;
        this.properties = properties;
        this.capture = capture;
    }

    /**
     * The position of the snapshot {@code snapshot} (a REPEATABLE READ transaction's client) reads;
     * it must be the transaction's first query, which is what takes its snapshot.
     */
    public Mono<Position> of(DatabaseClient snapshot) {
        if (!properties.logical()) {
            return ChangeLogReader.head(snapshot);
        }
        return snapshot.sql("SELECT pg_current_snapshot()::text AS seen, (pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::bigint AS wal")
                .map(row -> new String[] {row.get("seen", String.class), String.valueOf(row.get("wal", Long.class))})
                .one()
                .flatMap(start -> captured(Long.parseLong(start[1])).then(resolve(start[0])));
    }

    /**
     * Completes once the leader has handled every transaction committed before {@code wal}: it appended
     * one that committed at or after it (it appends in commit order), or confirmed the slot past it.
     */
    private Mono<Boolean> captured(long wal) {
        return db.sql("SELECT coalesce((SELECT max(source_lsn) - '0/0'::pg_lsn FROM change_commit) >= $2, false)"
                        + " OR coalesce((SELECT (confirmed_flush_lsn - '0/0'::pg_lsn) >= $2 FROM pg_replication_slots"
                        + " WHERE slot_name = $1), false) AS done")
                .bind(0, capture.slot()).bind(1, wal)
                .map(row -> Boolean.TRUE.equals(row.get("done", Boolean.class)))
                .one()
                .filter(done -> done)
                .repeatWhenEmpty(attempts -> attempts.delayElements(POLL));
    }

    private Mono<Position> resolve(String seen) {
        return db.sql(SEEN).bind(0, seen)
                .map(row -> new Position(row.get("commit_seq", Long.class), row.get("id", Long.class)))
                .one()
                .defaultIfEmpty(Position.ORIGIN)
                .flatMap(position -> db.sql(UNSEEN_BEFORE).bind(0, seen).bind(1, position.commitSeq())
                        .map(row -> row.get("n", Long.class)).one()
                        .flatMap(unseen -> unseen > 0 ? Mono.error(new Inverted()) : Mono.just(position)));
    }
}
