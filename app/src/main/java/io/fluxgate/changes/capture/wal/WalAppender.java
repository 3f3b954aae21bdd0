package io.fluxgate.changes.capture.wal;

import io.r2dbc.postgresql.api.PostgresqlConnection;
import io.r2dbc.postgresql.codec.Json;
import io.r2dbc.postgresql.replication.LogSequenceNumber;
import io.r2dbc.spi.R2dbcDataIntegrityViolationException;
import reactor.core.publisher.Mono;

/**
 * Appends one decoded transaction to the change log, in a transaction of its own on the leader's
 * connection: opened with the first batch, committed after the last. The commit hands out the
 * commit sequence (commit order) and records the decoded transaction's commit LSN, which is unique:
 * a transaction appended before (by a leader that died before confirming it) is refused, not
 * logged twice.
 */
final class WalAppender {

    private final PostgresqlConnection connection;
    private boolean open;

    WalAppender(PostgresqlConnection connection) {
        this.connection = connection;
    }

    /** Appends {@code batch} within the transaction of the decoded transaction {@code source}. */
    Mono<Void> append(RowBatch batch, PgOutput.Begin source) {
        return Mono.defer(() -> doAppend(batch, source));
    }

    /** Commits what was appended; false when that transaction had been appended already. */
    Mono<Boolean> commit() {
        return Mono.defer(this::doCommit);
    }

    /** Drops what was appended (the decoded transaction turned out to be logged by the triggers). */
    Mono<Void> rollback() {
        return Mono.defer(this::doRollback);
    }

    // Deferred: whether a transaction is open is known only when the step before has run.

    private Mono<Void> doAppend(RowBatch batch, PgOutput.Begin source) {
        Mono<Void> begin = open ? Mono.empty()
                : Mono.from(connection.beginTransaction())
                        .then(connection.createStatement("SELECT set_config('fluxgate.source_lsn', $1, true),"
                                        + " set_config('fluxgate.source_committed_at', $2, true),"
                                        + " set_config('fluxgate.source_xid', $3, true)")
                                .bind(0, LogSequenceNumber.valueOf(source.commitLsn()).asString())
                                .bind(1, source.committedAt().toString())
                                .bind(2, Long.toString(source.xid()))
                                .execute().flatMap(result -> result.map(row -> 1)).then())
                        .doOnSuccess(done -> open = true);
        // By the table's OID, as decoded: a table renamed since its rows were written is still the one.
        return begin.then(connection.createStatement("SELECT change_log_append($1::oid::regclass, $2::jsonb)")
                .bind(0, batch.table().id())
                .bind(1, Json.of(batch.json()))
                .execute().flatMap(result -> result.map(row -> 1)).then());
    }

    private Mono<Boolean> doCommit() {
        if (!open) {
            return Mono.just(false);
        }
        open = false;
        return Mono.from(connection.commitTransaction()).thenReturn(true)
                .onErrorResume(R2dbcDataIntegrityViolationException.class,
                        duplicate -> String.valueOf(duplicate.getMessage()).contains("source_lsn") ? Mono.just(false)
                                : Mono.error(duplicate));
    }

    private Mono<Void> doRollback() {
        if (!open) {
            return Mono.empty();
        }
        open = false;
        return Mono.from(connection.rollbackTransaction());
    }
}
