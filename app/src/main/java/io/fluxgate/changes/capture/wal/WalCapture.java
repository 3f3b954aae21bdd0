package io.fluxgate.changes.capture.wal;

import java.time.Duration;
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
    static final String MARKER = "fluxgate";
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
        WalDecoding decoding = new WalDecoding(new WalAppender(control), replicating, applied, until, properties, metrics);
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
    static Mono<Long> marker(PostgresqlConnection control) {
        return control.createStatement("SELECT (pg_logical_emit_message(true, '" + MARKER + "', '') - '0/0'::pg_lsn)::bigint AS lsn")
                .execute().flatMap(result -> result.map(row -> row.get("lsn", Long.class))).next();
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
