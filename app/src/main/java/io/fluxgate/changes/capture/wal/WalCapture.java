package io.fluxgate.changes.capture.wal;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import java.util.regex.Pattern;

import io.fluxgate.changes.ChangeStreamProperties;
import io.r2dbc.postgresql.PostgresqlConnectionConfiguration;
import io.r2dbc.postgresql.PostgresqlConnectionFactory;
import io.r2dbc.postgresql.PostgresqlConnectionFactoryProvider;
import io.r2dbc.postgresql.api.PostgresqlConnection;
import io.r2dbc.postgresql.api.PostgresqlReplicationConnection;
import io.r2dbc.postgresql.replication.LogSequenceNumber;
import io.r2dbc.postgresql.replication.ReplicationRequest;
import io.r2dbc.postgresql.replication.ReplicationStream;
import io.r2dbc.spi.ConnectionFactoryOptions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.util.retry.Retry;

import org.springframework.context.SmartLifecycle;
import org.springframework.stereotype.Component;

/**
 * Capture from the write-ahead log. In logical mode every replica runs this, and the one whose
 * replication connection holds the slot is the capture leader (a slot serves one connection at a
 * time; the others retry until it is free). The leader decodes each committed transaction of the
 * captured tables, appends its changes to {@code change_log} in commit order with the same rules
 * as the triggers ({@code change_log_append}), and only then confirms its LSN to the slot: a leader
 * that dies in between makes the next one decode it again, and the append refuses it by its LSN.
 * The listeners downstream read the log as in trigger mode, woken by the append's NOTIFY.
 *
 * <p>In trigger mode it only turns the triggers on and, when logical mode left a slot behind,
 * drains it (everything committed before the triggers came back) and drops it: nothing is lost or
 * logged twice across a switch either way, because a transaction the triggers logged carries a
 * {@code change_commit} row, and the decoder skips those.
 */
@Component
public class WalCapture implements SmartLifecycle {

    public static final String APPLICATION_NAME = "fluxgate-capture";
    private static final Logger log = LoggerFactory.getLogger(WalCapture.class);
    private static final Pattern NAME = Pattern.compile("[a-z_][a-z0-9_]{0,62}");
    private static final String MARKER = "fluxgate";
    private static final Duration TRIGGER_MODE_CHECK = Duration.ofSeconds(10);

    private final PostgresqlConnectionConfiguration configuration;
    private final CaptureProperties properties;
    private final ChangeStreamProperties stream;
    private final CaptureMetrics metrics;
    private final String slot;
    private volatile Disposable running;

    WalCapture(ConnectionFactoryOptions postgresConnectionOptions, CaptureProperties properties,
            ChangeStreamProperties stream, CaptureMetrics metrics) {
        this.configuration = PostgresqlConnectionFactoryProvider.builder(postgresConnectionOptions)
                .applicationName(APPLICATION_NAME).build();
        this.properties = properties;
        this.stream = stream;
        this.metrics = metrics;
        this.slot = properties.slotFor(String.valueOf(postgresConnectionOptions.getValue(ConnectionFactoryOptions.DATABASE)));
        if (!NAME.matcher(slot).matches() || !NAME.matcher(properties.publication()).matches()) {
            throw new IllegalArgumentException("Capture slot and publication names must be lower-case identifiers");
        }
    }

    public String slot() {
        return slot;
    }

    @Override
    public void start() {
        // Logical: prepare, then lead whenever this replica can hold the slot. Triggers: make sure the
        // triggers are on and no slot is left, now and every few seconds, so a logical replica that
        // outlived a switch (and turned the triggers off when it led) cannot leave the database uncaptured.
        Flux<Void> work = properties.logical() ? withConnection(this::lead).flux()
                : Flux.interval(Duration.ZERO, TRIGGER_MODE_CHECK).onBackpressureDrop()
                        .concatMap(tick -> withConnection(this::settle), 1);
        running = work
                .retryWhen(Retry.backoff(Long.MAX_VALUE, stream.reconnectMinBackoff())
                        .maxBackoff(stream.reconnectMaxBackoff())
                        .transientErrors(true)
                        .doBeforeRetry(signal -> log.info("Change capture: {}; trying again", signal.failure().toString())))
                .subscribe();
    }

    private Mono<Void> withConnection(Function<PostgresqlConnection, Mono<Void>> work) {
        return Mono.usingWhen(new PostgresqlConnectionFactory(configuration).create(), work, PostgresqlConnection::close);
    }

    private Mono<Void> lead(PostgresqlConnection control) {
        CaptureSetup setup = new CaptureSetup(control, slot, properties.publication());
        return setup.forLogical()
                .doOnNext(gap -> {
                    if (gap) {
                        metrics.gaps.increment();
                    }
                })
                .then(capture(control, setup, null));
    }

    /** Trigger mode: triggers on; a slot left by logical mode drained (to a marker written after that) and dropped. */
    private Mono<Void> settle(PostgresqlConnection control) {
        CaptureSetup setup = new CaptureSetup(control, slot, properties.publication());
        return setup.forTriggers().flatMap(slotLeft -> !slotLeft ? Mono.empty()
                : marker(control).flatMap(drainedAt -> capture(control, setup, drainedAt))
                        .then(setup.dropSlot())
                        .doOnSuccess(done -> log.info("Change capture: the slot {} is drained and dropped;"
                                + " the triggers capture from now on", slot)));
    }

    /**
     * Streams the slot from where it was confirmed, appending each decoded transaction; until the
     * connection fails, or, when {@code until} is set (draining), once the marker at that LSN has come
     * through. Leading in logical mode, it turns the triggers off first: only the replica holding the
     * slot changes them.
     */
    private Mono<Void> capture(PostgresqlConnection control, CaptureSetup setup, Long until) {
        return Mono.usingWhen(new PostgresqlConnectionFactory(configuration).replication(),
                replication -> appliedThrough(control).flatMap(applied -> Mono.usingWhen(start(replication),
                        replicating -> (until == null ? setup.triggers(false) : Mono.<Void>empty())
                                .then(Mono.defer(() -> decode(control, replicating, applied, until))),
                        WalCapture::close)),
                PostgresqlReplicationConnection::close)
                .doFinally(signal -> metrics.leading.set(0));
    }

    /**
     * Ends the stream's own status updates (a scheduled task the driver stops only here) and says
     * goodbye; bounded, since a server that has gone does not answer, and the connection closes anyway.
     */
    private static Mono<Void> close(ReplicationStream replicating) {
        return replicating.close().timeout(Duration.ofSeconds(2)).onErrorResume(e -> Mono.empty());
    }

    private Mono<Void> decode(PostgresqlConnection control, ReplicationStream replicating, long applied, Long until) {
        log.info("Change capture: leading; decoding slot {}", slot);
        metrics.leading.set(1);
        Decoding decoding = new Decoding(new WalAppender(control), replicating, applied, until);
        Flux<Object> messages = replicating.<Object>map(decoding::decode)
                .concatWith(Mono.error(() -> new IllegalStateException("the replication stream ended")));
        // Ticks only prompt a marker when idle: one missed while a long transaction is appended is no loss.
        Flux<Object> ticks = Flux.interval(properties.statusInterval()).onBackpressureDrop().map(tick -> Tick.TICK);
        return Flux.merge(messages, ticks)
                .concatMap(item -> item instanceof Tick ? decoding.tick(control)
                        : decoding.on((PgOutput.Message) item), 1)
                .takeUntil(done -> done)
                .then();
    }

    private enum Tick {
        TICK
    }

    private Mono<ReplicationStream> start(PostgresqlReplicationConnection replication) {
        return replication.startReplication(ReplicationRequest.logical()
                .slotName(slot)
                .startPosition(LogSequenceNumber.valueOf(0))
                .slotOption("proto_version", "1")
                .slotOption("publication_names", properties.publication())
                .slotOption("messages", "true")
                .statusInterval(properties.statusInterval())
                .build());
    }

    /**
     * The commit LSN of the newest decoded transaction appended, below which a decoded transaction is
     * skipped; 0 when those LSNs are ahead of this server's WAL (the database was moved to another
     * server, whose LSNs start over).
     */
    private static Mono<Long> appliedThrough(PostgresqlConnection control) {
        return control.createStatement("SELECT CASE WHEN max(source_lsn) > pg_current_wal_lsn() THEN 0"
                        + " ELSE coalesce(max(source_lsn) - '0/0'::pg_lsn, 0)::bigint END AS lsn FROM change_commit")
                .execute().flatMap(result -> result.map(row -> row.get("lsn", Long.class))).next();
    }

    /**
     * Writes a marker into the WAL; emits its LSN. It comes back through the stream in order. In a
     * transaction of its own, whose commit flushes it: the WAL sender sends only flushed WAL.
     */
    private static Mono<Long> marker(PostgresqlConnection control) {
        return control.createStatement("SELECT (pg_logical_emit_message(true, '" + MARKER + "', '') - '0/0'::pg_lsn)::bigint AS lsn")
                .execute().flatMap(result -> result.map(row -> row.get("lsn", Long.class))).next();
    }

    /**
     * One leader's pass over the stream. Decoded transactions are appended as they end, many to one
     * transaction of the leader's while more are already waiting behind them (bounded), one at a time
     * when they trickle in; the slot is confirmed only past what that transaction committed.
     */
    private final class Decoding {

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
        /** The end of the last decoded transaction handled; confirmed once nothing before it is uncommitted. */
        private long handledThrough;
        private boolean markerPending;

        Decoding(WalAppender appender, ReplicationStream replicating, long applied, Long until) {
            this.appender = appender;
            this.replicating = replicating;
            this.applied = applied;
            this.until = until;
        }

        PgOutput.Message decode(io.netty.buffer.ByteBuf data) {
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
            } else if (message instanceof PgOutput.Marker marker && MARKER.equals(marker.prefix())) {
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
            if (transaction != null || markerPending || appender.open() || pendingSources > 0) {
                return Mono.just(false);
            }
            markerPending = true;
            return marker(control).thenReturn(false);
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
                boolean moreWaiting = received.get() > handled + 1;
                if (moreWaiting && pendingSources < MAX_SOURCES && pendingRows < MAX_ROWS) {
                    return Mono.empty();
                }
                return send().then(Mono.fromRunnable(() -> confirm(handledThrough)));
            }));
        }

        /** Queues the complete, small decoded transaction {@code source} to be sent with the others waiting. */
        private void queue(PgOutput.Begin source) {
            if (runs.isEmpty()) {
                return;
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

    @Override
    public void stop() {
        Disposable current = running;
        if (current != null) {
            current.dispose();
        }
    }

    @Override
    public boolean isRunning() {
        Disposable current = running;
        return current != null && !current.isDisposed();
    }

    @Override
    public int getPhase() {
        // Beside the listener: after the web server starts, before it stops.
        return SmartLifecycle.DEFAULT_PHASE - 100;
    }
}
