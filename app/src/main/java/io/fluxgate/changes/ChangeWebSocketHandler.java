package io.fluxgate.changes;

import java.time.Duration;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import io.fluxgate.security.Caller;
import io.netty.channel.EventLoop;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;
import reactor.core.publisher.SynchronousSink;
import tools.jackson.databind.json.JsonMapper;

import org.springframework.security.oauth2.server.resource.authentication.JwtAuthenticationToken;
import org.springframework.stereotype.Component;
import org.springframework.web.reactive.socket.CloseStatus;
import org.springframework.web.reactive.socket.WebSocketHandler;
import org.springframework.web.reactive.socket.WebSocketMessage;
import org.springframework.web.reactive.socket.WebSocketSession;

/**
 * {@code /ws/changes}: the WebSocket transport of a change session. The upgrade was authenticated
 * by the security chain (bearer header or {@code access_token}); this parses the client's frames
 * (rate-limited), runs a session from {@link ChangeSessions}, writes its frames, pings idle clients
 * and closes dead ones.
 */
@Component
class ChangeWebSocketHandler implements WebSocketHandler {

    private static final CloseStatus PING_TIMEOUT = CloseStatus.GOING_AWAY.withReason("ping timeout");
    private static final CloseStatus NOT_READY = CloseStatus.SERVICE_OVERLOAD.withReason("change stream starting");
    private static final Duration NOT_READY_TIMEOUT = Duration.ofSeconds(10);
    private static final CloseStatus TOO_MANY_FRAMES = CloseStatus.POLICY_VIOLATION.withReason("too many frames");

    private final ChangeSessions sessions;
    private final ChangeStreamMetrics metrics;
    private final ChangeStreamProperties properties;
    private final JsonMapper json;

    ChangeWebSocketHandler(ChangeSessions sessions, ChangeStreamMetrics metrics, ChangeStreamProperties properties,
            JsonMapper json) {
        this.sessions = sessions;
        this.metrics = metrics;
        this.properties = properties;
        this.json = json;
    }

    @Override
    public Mono<Void> handle(WebSocketSession socket) {
        return handle(socket, null);
    }

    /** @param eventLoop the connection's Netty event loop (see {@link ChangeStreamConfiguration}), or null */
    Mono<Void> handle(WebSocketSession socket, EventLoop eventLoop) {
        return socket.getHandshakeInfo().getPrincipal()
                .cast(JwtAuthenticationToken.class)
                .map(Caller::fromToken)
                .flatMap(caller -> sessions.ready()
                        .timeout(NOT_READY_TIMEOUT)
                        .then(Mono.defer(() -> serve(socket, caller, eventLoop)))
                        // The listener has not reached the database yet: come back shortly.
                        .onErrorResume(TimeoutException.class, notReady -> socket.close(NOT_READY)));
    }

    private Mono<Void> serve(WebSocketSession socket, Caller caller, EventLoop eventLoop) {
        AtomicLong lastHeard = new AtomicLong(System.nanoTime());
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
                        : ClientMessage.MALFORMED)
                // A session that ends (4001, 4003, 1001) stops reading; reading is not cancelled with
                // it, since cancelling the socket's inbound drops the connection before our close frame.
                // One message at a time, as the session takes them: a queue per idle socket costs heap.
                .publish(1)
                .autoConnect();

        Flux<Outbound> session = sessions.serve(caller, eventLoop, inbound);
        Sinks.Empty<Void> finished = Sinks.empty();
        AtomicReference<CloseStatus> closing = new AtomicReference<>();
        Flux<WebSocketMessage> frames = session
                .handle((Outbound out, SynchronousSink<WebSocketMessage> sink) -> {
                    if (out instanceof Outbound.Frame frame) {
                        if (frame.committedAt() != null) {
                            metrics.sent(frame.committedAt());
                        }
                        sink.next(new WebSocketMessage(WebSocketMessage.Type.TEXT,
                                socket.bufferFactory().wrap(frame.json())));
                    } else if (out instanceof Outbound.Close close) {
                        closing.set(new CloseStatus(close.code(), close.reason()));
                    }
                })
                .doFinally(signal -> finished.tryEmitEmpty());

        Duration interval = properties.pingInterval();
        PingClock clock = new PingClock(interval.toNanos(), lastHeard);
        Flux<WebSocketMessage> pings = Flux.interval(interval, interval)
                .onBackpressureDrop()
                .takeUntilOther(finished.asMono())
                .concatMap(tick -> clock.timedOut(System.nanoTime())
                        ? socket.close(PING_TIMEOUT).then(Mono.<WebSocketMessage>empty())
                        : Mono.just(socket.pingMessage(factory -> factory.wrap(new byte[0]))));

        // The session ends by itself only to close the socket: with its code once the last frame is out.
        return sessions.tracked(socket.send(Flux.merge(frames, pings))
                .then(Mono.defer(() -> closing.get() == null ? Mono.empty() : socket.close(closing.get())))
                .flux())
                .then();
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
}
