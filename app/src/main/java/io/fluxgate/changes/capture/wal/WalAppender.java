package io.fluxgate.changes.capture.wal;

import io.r2dbc.postgresql.api.PostgresqlConnection;
import io.r2dbc.postgresql.codec.Json;
import io.r2dbc.postgresql.replication.LogSequenceNumber;
import io.r2dbc.spi.Statement;
import reactor.core.publisher.Mono;

/**
 * Appends decoded transactions to the change log, many per transaction of the leader's own (one
 * commit, one flush, for as many as arrive together): each decoded transaction's entries under its own
 * id, then its commit with its LSN and commit time ({@code change_commit_source}). The leader's
 * transaction holds the commit-order lock from its first append, so the sequences it hands out are
 * in commit order and become visible together. The LSN is unique: a transaction appended before (by a
 * leader that died before confirming it) fails the whole leader transaction, which is then started
 * over from the slot, skipping what is logged.
 *
 * <p>A decoded transaction large enough to be appended in several batches before its end is known
 * gets a savepoint, so that it alone can be dropped if it turns out to be one the triggers logged.
 */
final class WalAppender {

    private final PostgresqlConnection connection;
    private boolean open;
    private boolean savepoint;
    /** Decoded transactions logged in the open transaction. */
    private int sources;

    WalAppender(PostgresqlConnection connection) {
        this.connection = connection;
    }

    boolean open() {
        return open;
    }

    /**
     * Appends {@code batch} of the decoded transaction {@code source}; {@code early}: more of it may
     * follow and its end is not known yet (so it gets a savepoint first). Emits a positive number when
     * it logged anything (the channels it logged to), else 0.
     */
    Mono<Integer> append(RowBatch batch, PgOutput.Begin source, boolean early) {
        return Mono.defer(() -> {
            Mono<Void> before = begin();
            if (early && !savepoint) {
                before = before.then(execute("SAVEPOINT decoded")).doOnSuccess(done -> savepoint = true);
            }
            Statement append = connection.createStatement(
                            "SELECT change_log_append($1::oid::regclass, $2::jsonb, change_log_widen_xid($3)) AS n")
                    .bind(0, batch.table().id())
                    .bind(1, Json.of(batch.json()))
                    .bind(2, source.xid());
            return before.then(Mono.from(append.execute()).flatMap(result -> Mono.from(result.map(row -> row.get("n", Integer.class)))));
        });
    }

    /** The decoded transaction {@code source} is complete and logged {@code entries} entries. */
    Mono<Void> logged(PgOutput.Begin source, int entries) {
        return Mono.defer(() -> {
            Mono<Void> release = savepoint ? execute("RELEASE SAVEPOINT decoded") : Mono.empty();
            savepoint = false;
            if (entries == 0) {
                return release;
            }
            sources++;
            Statement commit = connection.createStatement(
                            "SELECT change_log_commit_source(change_log_widen_xid($1), $2::pg_lsn, $3::timestamptz)")
                    .bind(0, source.xid())
                    .bind(1, LogSequenceNumber.valueOf(source.commitLsn()).asString())
                    .bind(2, source.committedAt().toString());
            return release.then(Mono.from(commit.execute()).flatMap(result -> Mono.from(result.getRowsUpdated())).then());
        });
    }

    /**
     * Logs complete decoded transactions in one statement ({@code change_log_append_sources}): within
     * the open transaction if there is one, else as a transaction of its own. Emits how many logged something.
     */
    Mono<Integer> appendSources(String sourcesJson) {
        return Mono.defer(() -> Mono.from(connection.createStatement("SELECT change_log_append_sources($1::jsonb) AS n")
                        .bind(0, Json.of(sourcesJson)).execute())
                .flatMap(result -> Mono.from(result.map(row -> row.get("n", Integer.class)))));
    }

    /** Drops what was appended of the current decoded transaction (the triggers logged it). */
    Mono<Void> dropCurrent() {
        return Mono.defer(() -> {
            if (!savepoint) {
                return Mono.empty();
            }
            savepoint = false;
            return execute("ROLLBACK TO SAVEPOINT decoded").then(execute("RELEASE SAVEPOINT decoded"));
        });
    }

    /** Commits the leader's transaction; emits how many decoded transactions it logged. */
    Mono<Integer> commit() {
        return Mono.defer(() -> {
            if (!open) {
                return Mono.just(0);
            }
            int logged = sources;
            open = false;
            sources = 0;
            return Mono.from(connection.commitTransaction()).thenReturn(logged);
        });
    }

    private Mono<Void> begin() {
        if (open) {
            return Mono.empty();
        }
        return Mono.from(connection.beginTransaction()).doOnSuccess(done -> open = true);
    }

    private Mono<Void> execute(String sql) {
        return Mono.from(connection.createStatement(sql).execute()).flatMap(result -> Mono.from(result.getRowsUpdated())).then();
    }
}
