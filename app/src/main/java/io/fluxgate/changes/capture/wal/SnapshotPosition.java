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
 * order) or confirmed the slot past it (an idle database: within about two status intervals), the
 * position is the newest logged commit whose transaction the snapshot sees. When a commit the snapshot
 * does not see was logged before that one, or was logged already when the snapshot was taken (a
 * transaction is decoded once its commit is flushed, a moment before it is visible; longer with a
 * synchronous standby), no single position is exact: {@link Inverted} asks for a new snapshot,
 * before any row was sent.
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
    /** Logged commits the snapshot does not see, before its newest seen ($2) or among those it saw logged ($3). */
    private static final String UNSEEN_BEFORE = "SELECT count(*) AS n FROM change_commit c"
            + " WHERE c.tx_id >= pg_snapshot_xmin($1::pg_snapshot) AND (c.commit_seq < $2 OR c.commit_seq <= $3)"
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
        // The log as the snapshot sees it is at least what any live stream started from before it.
        return snapshot.sql("SELECT pg_current_snapshot()::text AS seen, (pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::bigint AS wal,"
                        + " coalesce((SELECT max(commit_seq) FROM change_commit), 0) AS logged")
                .map(row -> new Start(row.get("seen", String.class), row.get("wal", Long.class), row.get("logged", Long.class)))
                .one()
                .flatMap(start -> captured(start.wal()).then(resolve(start)));
    }

    /** What the snapshot saw when it was taken: its transactions, the WAL's end, and the newest logged commit. */
    private record Start(String seen, long wal, long logged) {
    }

    /**
     * Completes once the leader has handled every transaction committed before {@code wal}: it appended
     * one that committed at or after it (it appends in commit order), or confirmed the slot past it.
     */
    private Mono<Boolean> captured(long wal) {
        return db.sql("SELECT coalesce((SELECT max(source_lsn) - '0/0'::pg_lsn FROM change_commit"
                        + " WHERE source_lsn <= pg_current_wal_lsn()) >= $2, false)"
                        + " OR coalesce((SELECT (confirmed_flush_lsn - '0/0'::pg_lsn) >= $2 FROM pg_replication_slots"
                        + " WHERE slot_name = $1), false) AS done")
                .bind(0, capture.slot()).bind(1, wal)
                .map(row -> Boolean.TRUE.equals(row.get("done", Boolean.class)))
                .one()
                .filter(done -> done)
                .repeatWhenEmpty(attempts -> attempts.delayElements(POLL));
    }

    /**
     * The newest logged commit the snapshot sees; refused ({@link Inverted}) when it misses a logged
     * commit before that one, or one that was logged when it was taken (a live stream that started
     * before the snapshot may be past it: missing it would lose it for that stream).
     */
    private Mono<Position> resolve(Start start) {
        return db.sql(SEEN).bind(0, start.seen())
                .map(row -> new Position(row.get("commit_seq", Long.class), row.get("id", Long.class)))
                .one()
                .defaultIfEmpty(Position.ORIGIN)
                .flatMap(position -> db.sql(UNSEEN_BEFORE).bind(0, start.seen()).bind(1, position.commitSeq())
                        .bind(2, start.logged())
                        .map(row -> row.get("n", Long.class)).one()
                        .flatMap(unseen -> unseen > 0 ? Mono.error(new Inverted()) : Mono.just(position)));
    }
}
