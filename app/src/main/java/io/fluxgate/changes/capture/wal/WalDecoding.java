package io.fluxgate.changes.capture.wal;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

import io.netty.buffer.ByteBuf;
import io.r2dbc.postgresql.api.PostgresqlConnection;
import io.r2dbc.postgresql.replication.LogSequenceNumber;
import io.r2dbc.postgresql.replication.ReplicationStream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * One leader's pass over the stream. Decoded transactions are appended as they end, many to one
 * transaction of the leader's while more are already waiting behind them (bounded), one at a time
 * when they trickle in; the slot is confirmed only past what that transaction committed.
 */
final class WalDecoding {

    private static final Logger log = LoggerFactory.getLogger(WalDecoding.class);

    private static final int MAX_SOURCES = 1000;
    private static final int MAX_ROWS = 20_000;

    private final WalAppender appender;
    private final ReplicationStream replicating;
    private final Long until;
    private final Map<Long, PgOutput.Relation> relations = new HashMap<>();
    private final long applied;
    /** Messages decoded (as they arrive) and handled: more decoded than handled means more is waiting. */
    private final AtomicLong received = new AtomicLong();
    private long handled;
    private PgOutput.Begin transaction;
    private boolean skip;
    /** The current decoded transaction's runs of rows not sent yet, the last one still growing. */
    private final List<RowBatch> runs = new ArrayList<>();
    private int runRows;
    private long runBytes;
    /** Whether part of the current decoded transaction was sent before its end (it is large). */
    private boolean early;
    private int entries;
    /** Complete decoded transactions waiting to be sent together ({@code change_log_append_sources}). */
    private final StringBuilder pending = new StringBuilder();
    private int pendingSources;
    private int pendingRows;
    /** When the oldest of them was decoded ({@link System#nanoTime()}). */
    private long pendingSince;
    /** The end of the last decoded transaction handled; confirmed once nothing before it is uncommitted. */
    private long handledThrough;
    private boolean markerPending;

    private final CaptureProperties properties;
    private final CaptureMetrics metrics;

    WalDecoding(WalAppender appender, ReplicationStream replicating, long applied, Long until,
            CaptureProperties properties, CaptureMetrics metrics) {
        this.properties = properties;
        this.metrics = metrics;
        this.appender = appender;
        this.replicating = replicating;
        this.applied = applied;
        this.until = until;
    }

    PgOutput.Message decode(ByteBuf data) {
        received.incrementAndGet();
        return PgOutput.decode(data);
    }

    /** Handles one message; emits true once draining is complete. */
    Mono<Boolean> on(PgOutput.Message message) {
        return handle(message).doOnSuccess(done -> handled++);
    }

    private Mono<Boolean> handle(PgOutput.Message message) {
        if (message instanceof PgOutput.Begin begin) {
            transaction = begin;
            entries = 0;
            early = false;
            // Appended already (by a leader that died before confirming it).
            skip = begin.commitLsn() <= applied;
        } else if (message instanceof PgOutput.Relation relation) {
            relations.put(relation.id(), relation);
        } else if (message instanceof PgOutput.Row row) {
            return row(row).thenReturn(false);
        } else if (message instanceof PgOutput.Commit commit) {
            return commit(commit).thenReturn(false);
        } else if (message instanceof PgOutput.Marker marker && WalCapture.MARKER.equals(marker.prefix())) {
            markerPending = false;
            return send().then(Mono.fromSupplier(() -> {
                handledThrough = Math.max(handledThrough, marker.lsn());
                confirm(handledThrough);
                return until != null && marker.lsn() >= until;
            }));
        }
        return Mono.just(false);
    }

    /** Between transactions, a marker: once it is back, everything before it is confirmed (idle WAL goes). */
    Mono<Boolean> tick(PostgresqlConnection control) {
        if (transaction == null && !appender.open() && pendingSources > 0) {
            // Held for a batch, and no commit came to send them (what followed was no transaction).
            return sendAndConfirm().thenReturn(false);
        }
        if (transaction != null || markerPending || appender.open() || pendingSources > 0) {
            return Mono.just(false);
        }
        markerPending = true;
        return WalCapture.marker(control).thenReturn(false);
    }

    private Mono<Void> row(PgOutput.Row row) {
        PgOutput.Relation table = relations.get(row.relationId());
        if (transaction == null || skip || table == null) {
            return Mono.empty();
        }
        if (table.name().equals("change_commit")) {
            // The triggers logged this transaction (a switch of modes under way), or it is an append.
            skip = true;
            clearRuns();
            return appender.dropCurrent();
        }
        RowBatch last = runs.isEmpty() ? null : runs.get(runs.size() - 1);
        if (last == null || last.table() != table) {
            last = new RowBatch(table);
            runs.add(last);
        }
        int before = last.length();
        if (!last.add(row)) {
            log.warn("Change capture: a value of {}.{} was not in the WAL (is its REPLICA IDENTITY FULL?)",
                    table.schema(), table.name());
        }
        runRows++;
        runBytes += last.length() - before;
        if (runRows < properties.batchRows() && runBytes < properties.batchBytes().toBytes()) {
            return Mono.empty();
        }
        // A large transaction: what waits goes first (commit order), then this one's rows so far, in the
        // leader's transaction, which stays open until this one ends.
        early = true;
        return sendWaiting().then(flushRuns(true));
    }

    /** Sends the current transaction's runs on their own (a large transaction, in a savepoint). */
    private Mono<Void> flushRuns(boolean more) {
        List<RowBatch> sending = List.copyOf(runs);
        clearRuns();
        return Flux.fromIterable(sending)
                .concatMap(run -> appender.append(run, transaction, more))
                .doOnNext(logged -> entries += logged)
                .then();
    }

    private void clearRuns() {
        runs.clear();
        runRows = 0;
        runBytes = 0;
    }

    private Mono<Void> commit(PgOutput.Commit commit) {
        if (transaction == null) {
            return Mono.empty();
        }
        PgOutput.Begin done = transaction;
        Mono<Void> log;
        if (skip) {
            clearRuns();
            log = appender.dropCurrent();
        } else if (early) {
            log = flushRuns(false).then(Mono.defer(() -> appender.logged(done, entries)));
        } else {
            log = Mono.fromRunnable(() -> queue(done));
        }
        return log.then(Mono.defer(() -> {
            transaction = null;
            handledThrough = Math.max(handledThrough, commit.endLsn());
            if (pendingSources >= MAX_SOURCES || pendingRows >= MAX_ROWS) {
                return sendAndConfirm();
            }
            if (moreWaiting()) {
                return Mono.empty();
            }
            // Nothing else decoded yet: hold what waits a moment for more (its oldest at most the batch delay).
            long left = properties.batchDelay().toNanos() - (System.nanoTime() - pendingSince);
            if (pendingSources == 0 || left <= 0) {
                return sendAndConfirm();
            }
            return Mono.delay(Duration.ofNanos(left)).then(Mono.defer(() -> moreWaiting() ? Mono.empty() : sendAndConfirm()));
        }));
    }

    /** Messages decoded behind the one being handled. */
    private boolean moreWaiting() {
        return received.get() > handled + 1;
    }

    private Mono<Void> sendAndConfirm() {
        return send().then(Mono.fromRunnable(() -> confirm(handledThrough)));
    }

    /** Queues the complete, small decoded transaction {@code source} to be sent with the others waiting. */
    private void queue(PgOutput.Begin source) {
        if (runs.isEmpty()) {
            return;
        }
        if (pendingSources == 0) {
            pendingSince = System.nanoTime();
        }
        pending.append(pendingSources == 0 ? '[' : ',')
                .append("{\"x\":").append(source.xid())
                .append(",\"l\":\"").append(LogSequenceNumber.valueOf(source.commitLsn()).asString())
                .append("\",\"t\":\"").append(source.committedAt()).append("\",\"r\":[");
        for (int i = 0; i < runs.size(); i++) {
            if (i > 0) {
                pending.append(',');
            }
            runs.get(i).appendRun(pending);
        }
        pending.append("]}");
        pendingSources++;
        pendingRows += runRows;
        clearRuns();
    }

    /** Sends what waits (one statement) and commits what is open: afterwards, everything handled is logged. */
    private Mono<Void> send() {
        return sendWaiting().then(commitLeader());
    }

    /** Sends the complete decoded transactions waiting, in one statement. */
    private Mono<Void> sendWaiting() {
        if (pendingSources == 0) {
            return Mono.empty();
        }
        String sources = pending.append(']').toString();
        pending.setLength(0);
        pendingSources = 0;
        pendingRows = 0;
        return appender.appendSources(sources).doOnNext(metrics.transactions::increment).then();
    }

    private Mono<Void> commitLeader() {
        return appender.commit().doOnNext(metrics.transactions::increment).then();
    }

    private void confirm(long lsn) {
        LogSequenceNumber position = LogSequenceNumber.valueOf(lsn);
        replicating.setAppliedLSN(position);
        replicating.setFlushedLSN(position);
    }
}
