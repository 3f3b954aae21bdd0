package io.fluxgate.changes.capture;

import io.fluxgate.changes.ChangeStreamMetrics;
import io.fluxgate.changes.ChangeStreamProperties;
import io.fluxgate.changes.hub.ChangeFrames;
import io.fluxgate.changes.hub.ChangeHub;
import io.fluxgate.changes.hub.Channels;
import io.r2dbc.postgresql.api.PostgresqlConnection;
import io.r2dbc.spi.ConnectionFactories;
import io.r2dbc.spi.ConnectionFactory;
import io.r2dbc.spi.ConnectionFactoryOptions;
import io.r2dbc.spi.Option;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.util.retry.Retry;

import org.springframework.context.SmartLifecycle;
import org.springframework.r2dbc.connection.SingleConnectionFactory;
import org.springframework.r2dbc.core.DatabaseClient;
import org.springframework.stereotype.Component;

/**
 * The replica's one LISTEN connection, outside the pools. A NOTIFY (or the poll timer) wakes it; it
 * then reads the log past the hub's position, in pages, on the same connection, and publishes in
 * commit order. When the connection dies it reconnects with backoff and catches up from the log
 * before anything else, so nothing committed in between is lost.
 */
@Component
public class ChangeListener implements SmartLifecycle {

    public static final String APPLICATION_NAME = "fluxgate-listener";
    private static final Logger log = LoggerFactory.getLogger(ChangeListener.class);
    private static final Object WAKE = new Object();

    private final ConnectionFactory connections;
    private final ChangeHub hub;
    private final ChangeFrames frames;
    private final ChangeStreamProperties properties;
    private final ChangeStreamMetrics metrics;
    private volatile Disposable running;

    ChangeListener(ConnectionFactoryOptions postgresConnectionOptions, ChangeHub hub, ChangeFrames frames,
            ChangeStreamProperties properties, ChangeStreamMetrics metrics) {
        // Not pooled: this connection lives as long as the replica and is only ever used here.
        this.connections = ConnectionFactories.get(postgresConnectionOptions.mutate()
                .option(Option.valueOf("applicationName"), APPLICATION_NAME)
                .build());
        this.hub = hub;
        this.frames = frames;
        this.properties = properties;
        this.metrics = metrics;
    }

    @Override
    public void start() {
        running = Flux.usingWhen(connect(), this::listen, PostgresqlConnection::close)
                .retryWhen(Retry.backoff(Long.MAX_VALUE, properties.reconnectMinBackoff())
                        .maxBackoff(properties.reconnectMaxBackoff())
                        // A connection that worked resets the backoff: each outage starts fast again.
                        .transientErrors(true)
                        .doBeforeRetry(signal -> {
                            hub.listenerLost();
                            metrics.listenerReconnects.increment();
                            log.warn("Change listener lost its connection ({}); reconnecting",
                                    signal.failure().toString());
                        }))
                .subscribe();
    }

    private Mono<PostgresqlConnection> connect() {
        return Mono.from(connections.create())
                .cast(PostgresqlConnection.class)
                .flatMap(connection -> Flux.fromIterable(Channels.DATABASE)
                        .concatMap(channel -> connection.createStatement("LISTEN " + channel).execute()
                                .flatMap(result -> result.getRowsUpdated()))
                        .then(Mono.just(connection)))
                .doOnNext(connection -> log.info("Change listener connected; listening on {}", Channels.DATABASE));
    }

    /** Emits the number of events published by each catch-up, until the connection fails. */
    private Flux<Long> listen(PostgresqlConnection connection) {
        ChangeLogReader reader = new ChangeLogReader(
                DatabaseClient.create(new SingleConnectionFactory(connection, connections.getMetadata(), true)), frames, properties.replayBatch(),
                properties.replayBatchBytes().toBytes());
        // Notifications end when the connection does: that is a failure to retry, not a normal end.
        Flux<Object> notifications = connection.getNotifications().map(notification -> WAKE)
                .concatWith(Mono.error(() -> new IllegalStateException("LISTEN connection closed")));
        Flux<Object> wakeUps = Flux.merge(notifications, Flux.interval(properties.pollInterval()).map(tick -> WAKE))
                .startWith(WAKE);
        Mono<Void> start = hub.isStarted() ? Mono.empty() : reader.head().doOnNext(hub::startAt).then();
        return start.thenMany(wakeUps.onBackpressureLatest().concatMap(wake -> catchUp(reader), 1));
    }

    /** Publishes everything committed past the hub's head. */
    private Mono<Long> catchUp(ChangeLogReader reader) {
        return reader.after(hub.head(), ChangeLog.Filter.EVERYTHING).doOnNext(hub::publish).count()
                .doOnSuccess(published -> hub.caughtUp());
    }

    @Override
    public void stop() {
        hub.listenerLost();
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
        // Start after the web server (so sessions exist to serve) and stop before it.
        return SmartLifecycle.DEFAULT_PHASE - 100;
    }
}
