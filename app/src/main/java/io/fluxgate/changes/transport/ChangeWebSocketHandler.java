package io.fluxgate.changes.transport;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import io.fluxgate.changes.ChangeStreamMetrics;
import io.fluxgate.changes.ChangeStreamProperties;
import io.fluxgate.changes.delivery.ChangeSessions;
import io.fluxgate.changes.delivery.ClientMessage;
import io.fluxgate.changes.delivery.Outbound;
import io.fluxgate.security.Caller;
import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
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
public class ChangeWebSocketHandler implements WebSocketHandler {

    private static final Outbound.Close PING_TIMEOUT = new Outbound.Close(CloseStatus.GOING_AWAY.getCode(), "ping timeout");
    private static final Outbound.Close NOT_READY = new Outbound.Close(CloseStatus.SERVICE_OVERLOAD.getCode(),
            "change stream starting");
    private static final Duration NOT_READY_TIMEOUT = Duration.ofSeconds(10);
    private static final Outbound.Close NORMAL = new Outbound.Close(CloseStatus.NORMAL.getCode(), "");
    private static final Outbound.Close TOO_MANY_FRAMES = new Outbound.Close(CloseStatus.POLICY_VIOLATION.getCode(),
            "too many frames");

    private final ChangeSessions sessions;
    private final ChangeStreamMetrics metrics;
    private final ChangeStreamProperties properties;
    private final JsonMapper json;
    /** One of each per event loop, shared by the sockets it serves. */
    private final Map<EventLoop, LoopBatch> batches = new ConcurrentHashMap<>();
    private final Map<EventLoop, PingSweep> sweeps = new ConcurrentHashMap<>();

    ChangeWebSocketHandler(ChangeSessions sessions, ChangeStreamMetrics metrics, ChangeStreamProperties properties,
            JsonMapper json) {
        this.sessions = sessions;
        this.metrics = metrics;
        this.properties = properties;
        this.json = json;
    }

    /** Only reached through {@link ChangeStreamConfiguration}'s WebSocket service, which hands over the channel. */
    @Override
    public Mono<Void> handle(WebSocketSession socket) {
        return Mono.error(new UnsupportedOperationException("the change stream is served on Reactor Netty only"));
    }

    /** @param channel the connection's Netty channel (see {@link ChangeStreamConfiguration}) */
    Mono<Void> handle(WebSocketSession socket, Channel channel) {
        // First, before the client's frames: a refused frame closes through the closing handshake.
        if (channel.eventLoop().inEventLoop()) {
            FrameDecoding.refuseWithoutClosing(channel);
        } else {
            channel.eventLoop().execute(() -> FrameDecoding.refuseWithoutClosing(channel));
        }
        return socket.getHandshakeInfo().getPrincipal()
                .cast(JwtAuthenticationToken.class)
                .map(Caller::fromToken)
                // Served at once when the change stream is up (no wait kept alive for the socket's life).
                .flatMap(caller -> sessions.isReady() ? serve(socket, caller, channel) : sessions.ready()
                        .timeout(NOT_READY_TIMEOUT)
                        .then(Mono.defer(() -> serve(socket, caller, channel)))
                        // The listener has not reached the database yet: come back shortly.
                        .onErrorResume(TimeoutException.class, notReady -> close(channel, NOT_READY)));
    }

    private Mono<Void> serve(WebSocketSession socket, Caller caller, Channel channel) {
        ClosingHandshake.watch(channel);
        // Frames go to the channel directly; the session ends by itself only to close the socket,
        // with its code, once the last frame is out. Before any other close, the writer stops.
        SocketWriter writer = new SocketWriter(channel, batches.computeIfAbsent(channel.eventLoop(),
                LoopBatch::new), metrics);
        AtomicLong lastHeard = new AtomicLong(System.nanoTime());
        FrameRate rate = new FrameRate(properties.maxClientFramesPerSecond(), properties.clientFrameBurst());
        AtomicBoolean flooded = new AtomicBoolean();
        Flux<ClientMessage> inbound = socket.receive()
                .<ClientMessage>handle((message, sink) -> {
                    lastHeard.set(System.nanoTime());
                    // Past the rate the session stops and the client hears 1008; its frames are still
                    // read (and dropped), never cancelled, so the close reaches it (see ClosingHandshake).
                    if (flooded.get()) {
                        return;
                    }
                    if (!rate.tryTake()) {
                        flooded.set(true);
                        writer.stop();
                        close(channel, TOO_MANY_FRAMES).subscribe();
                        return;
                    }
                    if (message.getType() == WebSocketMessage.Type.TEXT) {
                        sink.next(ClientMessage.parse(message.getPayloadAsText(), json));
                    } else if (message.getType() == WebSocketMessage.Type.BINARY) {
                        sink.next(ClientMessage.MALFORMED);
                    }
                })
                .onErrorResume(failure -> {
                    Outbound.Close refused = FrameDecoding.refused(failure);
                    if (refused == null) {
                        return Flux.error(failure);
                    }
                    // A frame too large or malformed: the session stops, and the client hears why through
                    // the closing handshake (already under way for a frame the decoder refused).
                    writer.stop();
                    close(channel, refused).subscribe();
                    return Flux.empty();
                })
                // A session that ends (4001, 4003, 1001) stops reading; reading is not cancelled with
                // it, since cancelling the socket's inbound drops the connection before our close frame.
                // One message at a time, as the session takes them: a queue per idle socket costs heap.
                .publish(1)
                .autoConnect();

        PingSweep sweep = sweeps.computeIfAbsent(channel.eventLoop(),
                loop -> new PingSweep(loop, properties.pingInterval().toNanos()));
        PingClock clock = new PingClock(properties.pingInterval().toNanos(), lastHeard);
        PingSweep.Pinged pinged = new PingSweep.Pinged() {
            @Override
            public PingClock clock() {
                return clock;
            }

            @Override
            public void ping() {
                writer.ping();
            }

            @Override
            public void timedOut() {
                writer.stop();
                close(channel, PING_TIMEOUT).subscribe();
            }
        };
        Mono<Void> written = writer.write(sessions.serve(caller, "websocket", channel.eventLoop(), writer, inbound))
                .flatMap(close -> close(channel, close))
                // Whatever ended it, the handler completes only once the connection has closed: Reactor
                // Netty would otherwise close a still-open one at once, cutting a handshake under way.
                // (A close already started only waits here.)
                .then(Mono.defer(() -> close(channel, NORMAL)))
                .doFirst(() -> sweep.add(pinged))
                .doFinally(signal -> sweep.remove(pinged));
        return sessions.tracked(written.flux()).then();
    }

    /** Closes with the closing handshake; completes when the connection has closed. */
    private static Mono<Void> close(Channel channel, Outbound.Close close) {
        return ClosingHandshake.close(channel, close.code(), close.reason());
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
