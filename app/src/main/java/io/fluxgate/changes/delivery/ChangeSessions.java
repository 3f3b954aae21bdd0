package io.fluxgate.changes.delivery;

import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicInteger;

import io.fluxgate.changes.ChangeStreamMetrics;
import io.fluxgate.changes.ChangeStreamProperties;
import io.fluxgate.changes.hub.ChangeFrames;
import io.fluxgate.changes.hub.ChangeHub;
import io.fluxgate.changes.hub.LiveChangeSource;
import io.fluxgate.security.Caller;
import io.fluxgate.security.TokenRevocation;
import io.fluxgate.web.PerUserLimit;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

import org.springframework.context.SmartLifecycle;
import org.springframework.security.oauth2.jwt.ReactiveJwtDecoder;
import org.springframework.stereotype.Component;

/**
 * Opens change-stream sessions for every transport (WebSocket and SSE alike): the same protocol,
 * limits and revocation behind both. It also bounds open sessions per user, and ends every session
 * with 1001 when the service shuts down.
 */
@Component
public class ChangeSessions implements SmartLifecycle {

    static final Outbound.Close SHUTTING_DOWN = new Outbound.Close(1001, "server shutting down");
    static final Outbound.Close TOO_MANY_SESSIONS = new Outbound.Close(1008, "too many sessions");
    /** How often an open session's token is checked for expiry and revocation. */
    private static final Duration AUTHORITY_CHECK = Duration.ofSeconds(1);
    private static final Duration SHUTDOWN_WAIT = Duration.ofSeconds(5);

    private final ChangeHub hub;
    private final ChangeStreamMetrics metrics;
    private final ChangeSession.Context context;
    private final AuthoritySweep sweep;
    /** The sweep's schedule while running; a context may be stopped and started again. */
    private volatile Disposable sweeping;
    /** Transports still open, their final close included: what a shutdown waits for. */
    private final AtomicInteger transports = new AtomicInteger();
    /** Open sessions per user on this replica; upgrades and streams answer 429 when a user is full. */
    final PerUserLimit perUser;
    private volatile boolean running;

    ChangeSessions(ChangeHub hub, ChangeFeed feed, ChangeSnapshots snapshots, ChangeFrames frames, ChangeStreamMetrics metrics,
            ChangeStreamProperties properties, List<LiveChangeSource> liveSources, ReactiveJwtDecoder tokens,
            TokenRevocation revocation) {
        this.hub = hub;
        this.metrics = metrics;
        this.perUser = new PerUserLimit(properties.maxSessionsPerUser());
        Authority authority = new Authority() {
            @Override
            public Mono<Caller> verify(String token) {
                return tokens.decode(token).map(Caller::fromJwt)
                        .filterWhen(revocation::holds)
                        .switchIfEmpty(Mono.error(() -> new IllegalArgumentException("revoked")));
            }

            @Override
            public Mono<Boolean> holds(Caller caller) {
                return revocation.holds(caller);
            }
        };
        this.sweep = new AuthoritySweep(authority);
        this.context = new ChangeSession.Context(feed, snapshots, frames, metrics, List.copyOf(liveSources), authority,
                properties.maxSubscriptionsPerSession());
    }

    /** Completes once the change stream knows where the log stands; sessions open only after. */
    public Mono<Void> ready() {
        return hub.ready();
    }

    /** Whether {@link #ready()} has completed. */
    public boolean isReady() {
        return hub.isStarted();
    }

    /** Whether {@code caller} may open one more session (checked again, atomically, when it opens). */
    public boolean hasRoomFor(Caller caller) {
        return !perUser.isFull(caller.id());
    }

    /**
     * A session for {@code caller} over {@code inbound} (for transports without client messages:
     * the subscriptions, then nothing). Its per-user slot is taken when it is subscribed to and given
     * back however it ends; a user already holding its most sessions, or a service stopping, gets a
     * close at once.
     *
     * @param executor the connection's event loop (events are handed over there), or null
     * @param direct where live events may be written at once, on that loop (see {@link DirectWriter}); or null
     */
    public Flux<Outbound> serve(Caller caller, String transport, Executor executor, DirectWriter direct,
            Flux<ClientMessage> inbound) {
        return Flux.defer(() -> {
            if (!running) {
                return Flux.just(SHUTTING_DOWN);
            }
            if (!perUser.tryAcquire(caller.id())) {
                // Opened past the transport's own check, by racing it: the bound holds all the same.
                return Flux.just(TOO_MANY_SESSIONS);
            }
            metrics.sessions.incrementAndGet();
            ChangeSession session = new ChangeSession(caller, transport, context, executor);
            if (direct != null) {
                session.writeDirectlyTo(direct);
            }
            return sweep.track(session, Flux.defer(() -> {
                // A shutdown that began as this session opened, after the sweep ended the others.
                if (!running) {
                    session.end(SHUTTING_DOWN);
                }
                return session.run(inbound);
            }), () -> {
                perUser.release(caller.id());
                metrics.sessions.decrementAndGet();
            });
        });
    }

    /** The sessions open on this replica, for the inspector. */
    public Collection<ChangeSession> open() {
        return sweep.open();
    }

    /**
     * Wraps a transport's whole life (its session and the close it sends after), so a shutdown waits
     * until every client has been told 1001 before the web server goes.
     */
    public <T> Flux<T> tracked(Flux<T> transport) {
        return Flux.defer(() -> {
            transports.incrementAndGet();
            return transport.doFinally(signal -> transports.decrementAndGet());
        });
    }

    @Override
    public void start() {
        running = true;
        // Expiry and revocation end sessions within a second or so: one sweep, never two at once.
        sweeping = Flux.interval(AUTHORITY_CHECK, AUTHORITY_CHECK)
                .onBackpressureDrop()
                .concatMap(tick -> sweep.sweep(), 1)
                .subscribe();
    }

    /** Every session is told 1001 (clients reconnect elsewhere with their last cursor); waits for them briefly. */
    @Override
    public void stop() {
        running = false;
        Disposable schedule = sweeping;
        if (schedule != null) {
            schedule.dispose();
        }
        sweep.endAll(SHUTTING_DOWN);
        long deadline = System.nanoTime() + SHUTDOWN_WAIT.toNanos();
        while (transports.get() > 0 && System.nanoTime() < deadline) {
            try {
                Thread.sleep(20);
            } catch (InterruptedException interrupted) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    @Override
    public boolean isRunning() {
        return running;
    }

    @Override
    public int getPhase() {
        // Stops before the web server's graceful shutdown, which would otherwise wait on open sockets.
        return Integer.MAX_VALUE - 1;
    }
}
