package io.fluxgate.changes;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;

import io.fluxgate.security.Caller;
import io.fluxgate.security.TokenRevocation;
import io.fluxgate.web.PerUserLimit;
import io.netty.channel.EventLoop;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;
import reactor.core.scheduler.Scheduler;
import reactor.core.scheduler.Schedulers;
import tools.jackson.databind.json.JsonMapper;

import org.springframework.beans.factory.annotation.Qualifier;
import org.springframework.context.SmartLifecycle;
import org.springframework.r2dbc.core.DatabaseClient;
import org.springframework.security.oauth2.server.resource.authentication.JwtAuthenticationToken;
import org.springframework.stereotype.Component;
import org.springframework.web.reactive.socket.CloseStatus;
import org.springframework.web.reactive.socket.WebSocketHandler;
import org.springframework.web.reactive.socket.WebSocketMessage;
import org.springframework.web.reactive.socket.WebSocketSession;

/**
 * {@code /ws/changes}. The upgrade was authenticated by the security chain (bearer header or
 * {@code access_token}); this wires a {@link ChangeSession} to the socket, pings idle clients, closes
 * dead ones, and says 1001 to everyone when the service shuts down.
 */
@Component
class ChangeWebSocketHandler implements WebSocketHandler, SmartLifecycle {

    private static final CloseStatus SHUTTING_DOWN = CloseStatus.GOING_AWAY.withReason("server shutting down");
    private static final CloseStatus PING_TIMEOUT = CloseStatus.GOING_AWAY.withReason("ping timeout");
    private static final CloseStatus NOT_READY = CloseStatus.SERVICE_OVERLOAD.withReason("change stream starting");
    private static final Duration NOT_READY_TIMEOUT = Duration.ofSeconds(10);
    static final CloseStatus TOKEN_EXPIRED = new CloseStatus(4001, "token expired");
    static final CloseStatus ACCESS_REVOKED = new CloseStatus(4003, "access revoked");
    private static final CloseStatus TOO_MANY_FRAMES = CloseStatus.POLICY_VIOLATION.withReason("too many frames");
    private static final CloseStatus TOO_MANY_SESSIONS = CloseStatus.POLICY_VIOLATION.withReason("too many sessions");
    /** How often an open session's token is checked for expiry and revocation. */
    private static final Duration AUTHORITY_CHECK = Duration.ofSeconds(1);

    private final ChangeHub hub;
    private final ChangeLogReader log;
    private final ChangeStreamMetrics metrics;
    private final ChangeStreamProperties properties;
    private final JsonMapper json;
    private final List<LiveChangeSource> liveSources;
    private final TokenRevocation revocation;
    /** Open sessions per user on this replica; the upgrade filter answers 429 when a user is full. */
    final PerUserLimit sessions;
    private final Set<WebSocketSession> open = ConcurrentHashMap.newKeySet();
    private final Map<EventLoop, Scheduler> loopSchedulers = new ConcurrentHashMap<>();
    private volatile boolean running;

    ChangeWebSocketHandler(ChangeHub hub, @Qualifier("analyticsDatabaseClient") DatabaseClient analytics,
            ChangeEventMapper mapper, ChangeStreamMetrics metrics, ChangeStreamProperties properties, JsonMapper json,
            List<LiveChangeSource> liveSources, TokenRevocation revocation) {
        this.liveSources = List.copyOf(liveSources);
        this.revocation = revocation;
        this.sessions = new PerUserLimit(properties.maxSessionsPerUser());
        this.hub = hub;
        this.log = new ChangeLogReader(analytics, mapper, properties.replayBatch());
        this.metrics = metrics;
        this.properties = properties;
        this.json = json;
    }

    @Override
    public Mono<Void> handle(WebSocketSession socket) {
        EventLoop loop = (EventLoop) socket.getAttributes().get(ChangeStreamConfiguration.EVENT_LOOP);
        return socket.getHandshakeInfo().getPrincipal()
                .cast(JwtAuthenticationToken.class)
                .map(Caller::fromToken)
                .flatMap(caller -> hub.ready()
                        .timeout(NOT_READY_TIMEOUT)
                        .then(Mono.defer(() -> serve(socket, caller, loop)))
                        // The listener has not reached the database yet: come back shortly.
                        .onErrorResume(TimeoutException.class, notReady -> socket.close(NOT_READY)));
    }

    private Mono<Void> serve(WebSocketSession socket, Caller caller, EventLoop loop) {
        if (!running) {
            return socket.close(SHUTTING_DOWN);
        }
        if (!sessions.tryAcquire(caller.id())) {
            // Upgrades that raced past the 429 check: the bound holds all the same.
            return socket.close(TOO_MANY_SESSIONS);
        }
        open.add(socket);
        metrics.sessions.incrementAndGet();
        AtomicLong lastHeard = new AtomicLong(System.nanoTime());
        Sinks.Empty<Void> finished = Sinks.empty();

        FrameRate rate = new FrameRate(properties.maxClientFramesPerSecond(), properties.clientFrameBurst());
        Flux<ClientMessage> inbound = socket.receive()
                .doOnNext(message -> lastHeard.set(System.nanoTime()))
                .takeWhile(message -> {
                    if (rate.tryTake()) {
                        return true;
                    }
                    socket.close(TOO_MANY_FRAMES).subscribe();
                    return false;
                })
                .filter(message -> message.getType() == WebSocketMessage.Type.TEXT
                        || message.getType() == WebSocketMessage.Type.BINARY)
                .map(message -> message.getType() == WebSocketMessage.Type.TEXT
                        ? ClientMessage.parse(message.getPayloadAsText(), json)
                        : ClientMessage.MALFORMED);

        ChangeSession session = loop != null
                ? new ChangeSession(caller, hub, log, metrics, json, properties.sessionBuffer(), loop,
                        loopSchedulers.computeIfAbsent(loop, Schedulers::fromExecutor), liveSources)
                // Not on Reactor Netty: work where events arrive; Reactor keeps each session serial.
                : new ChangeSession(caller, hub, log, metrics, json, properties.sessionBuffer(), Runnable::run,
                        Schedulers.immediate(), liveSources);
        Flux<WebSocketMessage> frames = session.run(inbound)
                .doOnNext(frame -> {
                    if (frame.committedAt() != null) {
                        metrics.sent(frame.committedAt());
                    }
                })
                .map(frame -> new WebSocketMessage(WebSocketMessage.Type.TEXT, socket.bufferFactory().wrap(frame.bytes())))
                .doFinally(signal -> finished.tryEmitEmpty());

        Duration interval = properties.pingInterval();
        PingClock clock = new PingClock(interval.toNanos(), lastHeard);
        Flux<WebSocketMessage> pings = Flux.interval(interval, interval)
                .takeUntilOther(finished.asMono())
                .concatMap(tick -> clock.timedOut(System.nanoTime())
                        ? socket.close(PING_TIMEOUT).then(Mono.<WebSocketMessage>empty())
                        : Mono.just(socket.pingMessage(factory -> factory.wrap(new byte[0]))));

        return socket.send(Flux.merge(frames, pings, authority(socket, caller, finished.asMono())))
                .doFinally(signal -> {
                    open.remove(socket);
                    sessions.release(caller.id());
                    metrics.sessions.decrementAndGet();
                });
    }

    /**
     * When a silent client is given up on: nothing heard for two intervals, and a ping sent a full
     * interval ago is still unanswered. The second condition matters on a busy machine, where ticks
     * run late: a client is never closed for not answering a ping it was never sent.
     */
    static final class PingClock {

        private final long intervalNanos;
        private final AtomicLong lastHeard;
        /** Whether a ping is out and unanswered, and since when. Ticks come one at a time. */
        private boolean awaiting;
        private long awaitingSince;

        PingClock(long intervalNanos, AtomicLong lastHeard) {
            this.intervalNanos = intervalNanos;
            this.lastHeard = lastHeard;
        }

        /** Called on each tick: true to close the session; false when a ping is to be sent now. */
        boolean timedOut(long now) {
            long heard = lastHeard.get();
            if (awaiting && heard - awaitingSince >= 0) {
                awaiting = false;
            }
            if (awaiting && now - heard > 2 * intervalNanos && now - awaitingSince >= intervalNanos) {
                return true;
            }
            if (!awaiting) {
                awaiting = true;
                awaitingSince = now;
            }
            return false;
        }
    }

    /**
     * Closes the session with 4001 once its token expires and with 4003 once it is revoked (its user
     * suspended, deleted, or a role taken away), checked every second through {@link TokenRevocation}.
     * Sends nothing itself. A failure to check (the database is away) leaves the session open.
     */
    private Flux<WebSocketMessage> authority(WebSocketSession socket, Caller caller, Mono<Void> finished) {
        return Flux.interval(AUTHORITY_CHECK, AUTHORITY_CHECK)
                .takeUntilOther(finished)
                .concatMap(tick -> caller.isExpiredAt(Instant.now()) ? Mono.just(TOKEN_EXPIRED)
                        : revocation.holds(caller)
                                .filter(holds -> !holds)
                                .map(revoked -> ACCESS_REVOKED)
                                .onErrorResume(unknown -> Mono.empty()))
                .next()
                .flatMap(socket::close)
                .thenMany(Flux.empty());
    }

    @Override
    public void start() {
        running = true;
    }

    /** Clients hear 1001 and can reconnect elsewhere with their last cursor. */
    @Override
    public void stop() {
        running = false;
        Flux.fromIterable(open)
                .flatMap(socket -> socket.close(SHUTTING_DOWN).onErrorResume(alreadyGone -> Mono.empty()))
                .blockLast(Duration.ofSeconds(5));
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
