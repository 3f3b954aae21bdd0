package io.fluxgate.changes.capture.wal;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
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
        running = Flux.defer(() -> Mono.usingWhen(new PostgresqlConnectionFactory(configuration).create(),
                        this::run, PostgresqlConnection::close))
                .retryWhen(Retry.backoff(Long.MAX_VALUE, stream.reconnectMinBackoff())
                        .maxBackoff(stream.reconnectMaxBackoff())
                        .transientErrors(true)
                        .doBeforeRetry(signal -> log.info("Change capture: {}; trying again", signal.failure().toString())))
                .subscribe();
    }

    /** Prepares the database for the mode, then captures (logical) or drains what is left (triggers). */
    private Mono<Void> run(PostgresqlConnection control) {
        CaptureSetup setup = new CaptureSetup(control, slot, properties.publication());
        if (properties.logical()) {
            return setup.forLogical()
                    .doOnNext(gap -> {
                        if (gap) {
                            metrics.gaps.increment();
                        }
                    })
                    .then(capture(control, null));
        }
        return setup.forTriggers().flatMap(slotLeft -> !slotLeft ? Mono.empty()
                : marker(control).flatMap(drainedAt -> capture(control, drainedAt))
                        .then(setup.dropSlot())
                        .doOnSuccess(done -> log.info("Change capture: the slot {} is drained and dropped;"
                                + " the triggers capture from now on", slot)));
    }

    /**
     * Streams the slot from where it was confirmed, appending each decoded transaction; until the
     * connection fails, or, when {@code until} is set, once the marker at that LSN has come through.
     */
    private Mono<Void> capture(PostgresqlConnection control, Long until) {
        return Mono.usingWhen(new PostgresqlConnectionFactory(configuration).replication(),
                replication -> appliedThrough(control).flatMap(applied -> start(replication).flatMap(replicating -> {
                    log.info("Change capture: leading; decoding slot {}", slot);
                    metrics.leading.set(1);
                    Decoding decoding = new Decoding(new WalAppender(control), replicating, applied, until);
                    Flux<Object> ticks = Flux.interval(properties.statusInterval()).map(tick -> Tick.TICK);
                    return Flux.merge(replicating.map(PgOutput::decode), ticks)
                            .concatMap(item -> item instanceof Tick ? decoding.tick(control)
                                    : decoding.on((PgOutput.Message) item), 1)
                            .takeUntil(done -> done)
                            .then();
                })).doFinally(signal -> metrics.leading.set(0)),
                PostgresqlReplicationConnection::close);
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

    private static Mono<Long> appliedThrough(PostgresqlConnection control) {
        return control.createStatement("SELECT coalesce(max(source_lsn) - '0/0'::pg_lsn, 0)::bigint AS lsn FROM change_commit")
                .execute().flatMap(result -> result.map(row -> row.get("lsn", Long.class))).next();
    }

    /** Writes a marker into the WAL; emits its LSN. It comes back through the stream in order. */
    private static Mono<Long> marker(PostgresqlConnection control) {
        return control.createStatement("SELECT (pg_logical_emit_message(false, '" + MARKER + "', '') - '0/0'::pg_lsn)::bigint AS lsn")
                .execute().flatMap(result -> result.map(row -> row.get("lsn", Long.class))).next();
    }

    /** One leader's pass over the stream: the transaction being decoded, and what to confirm. */
    private final class Decoding {

        private final WalAppender appender;
        private final ReplicationStream replicating;
        private final Long until;
        private final Map<Integer, PgOutput.Relation> relations = new HashMap<>();
        private long applied;
        private PgOutput.Begin transaction;
        private boolean skip;
        private RowBatch batch;
        private boolean markerPending;

        Decoding(WalAppender appender, ReplicationStream replicating, long applied, Long until) {
            this.appender = appender;
            this.replicating = replicating;
            this.applied = applied;
            this.until = until;
        }

        /** Handles one message; emits true once draining is complete. */
        Mono<Boolean> on(PgOutput.Message message) {
            if (message instanceof PgOutput.Begin begin) {
                transaction = begin;
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
                confirm(marker.lsn());
                return Mono.just(until != null && marker.lsn() >= until);
            }
            return Mono.just(false);
        }

        /** Between transactions, a marker: once it is back, everything before it is confirmed (idle WAL goes). */
        Mono<Boolean> tick(PostgresqlConnection control) {
            if (transaction != null || markerPending) {
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
                batch = null;
                return appender.rollback();
            }
            Mono<Void> flush = Mono.empty();
            if (batch != null && (batch.table() != table || batch.rows() >= properties.batchRows()
                    || batch.length() >= properties.batchBytes().toBytes())) {
                flush = flush();
            }
            return flush.then(Mono.fromRunnable(() -> {
                if (batch == null) {
                    batch = new RowBatch(table);
                }
                if (!batch.add(row)) {
                    log.warn("Change capture: a value of {}.{} was not in the WAL (is its REPLICA IDENTITY FULL?)",
                            table.schema(), table.name());
                }
            }));
        }

        private Mono<Void> flush() {
            RowBatch full = batch;
            batch = null;
            return full == null ? Mono.empty() : appender.append(full, transaction);
        }

        private Mono<Void> commit(PgOutput.Commit commit) {
            if (transaction == null) {
                return Mono.empty();
            }
            PgOutput.Begin done = transaction;
            Mono<Void> append = skip ? appender.rollback()
                    : flush().then(appender.commit()).doOnNext(appended -> {
                        if (appended) {
                            metrics.transactions.increment();
                        }
                    }).then();
            return append.doOnSuccess(nothing -> {
                transaction = null;
                applied = Math.max(applied, done.commitLsn());
                confirm(commit.endLsn());
            });
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
