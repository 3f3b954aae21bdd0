package io.fluxgate.changes.transport;

import java.util.List;
import java.util.Map;
import java.util.Optional;

import io.fluxgate.changes.ChangeStreamProperties;
import io.fluxgate.changes.capture.ChangeLogReader;
import io.fluxgate.changes.delivery.ChangeSessions;
import io.fluxgate.changes.hub.ChangeFrames;
import io.fluxgate.security.Caller;
import io.fluxgate.web.ProblemWriter;
import io.micrometer.observation.ObservationPredicate;
import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import org.springdoc.webflux.core.fn.SpringdocRouteBuilder;
import reactor.core.publisher.Mono;
import reactor.netty.Connection;
import reactor.netty.http.server.WebsocketServerSpec;

import org.springframework.beans.factory.annotation.Qualifier;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.Ordered;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.http.server.reactive.ServerHttpRequest;
import org.springframework.http.server.reactive.ServerHttpRequestDecorator;
import org.springframework.http.server.reactive.observation.ServerRequestObservationContext;
import org.springframework.r2dbc.core.DatabaseClient;
import org.springframework.security.oauth2.server.resource.authentication.JwtAuthenticationToken;
import org.springframework.web.reactive.HandlerMapping;
import org.springframework.web.reactive.config.WebFluxConfigurer;
import org.springframework.web.reactive.function.server.RouterFunction;
import org.springframework.web.reactive.function.server.ServerResponse;
import org.springframework.web.reactive.handler.SimpleUrlHandlerMapping;
import org.springframework.web.reactive.socket.WebSocketHandler;
import org.springframework.web.reactive.socket.server.WebSocketService;
import org.springframework.web.reactive.socket.server.support.HandshakeWebSocketService;
import org.springframework.web.reactive.socket.server.upgrade.ReactorNettyRequestUpgradeStrategy;
import org.springframework.web.server.ServerWebExchange;
import org.springframework.web.server.ServerWebInputException;
import org.springframework.web.server.WebFilter;

import static io.fluxgate.web.ApiDocs.doc;

@Configuration(proxyBeanMethods = false)
public class ChangeStreamConfiguration {

    static final String PATH = "/ws/changes";

    @Bean
    HandlerMapping changeStreamMapping(ChangeWebSocketHandler handler) {
        return new SimpleUrlHandlerMapping(Map.of(PATH, handler), Ordered.HIGHEST_PRECEDENCE);
    }

    /** What a request that is not a proper WebSocket upgrade is told. */
    static final String NOT_AN_UPGRADE = "Only WebSocket upgrades are served here";

    /**
     * Hands {@link ChangeWebSocketHandler} the connection's Netty channel with each upgrade: its
     * session takes its events on the channel's event loop and writes its frames to the channel there.
     * A request the handshake refuses gets our reason: the framework's repeat the request's headers,
     * the bearer token among them.
     */
    @Bean
    WebFluxConfigurer changeStreamWebSocketService() {
        return new WebFluxConfigurer() {
            @Override
            public WebSocketService getWebSocketService() {
                // Frames (and messages of fragments) of at most 64 KiB, the bound FrameDecoding keeps.
                return new HandshakeWebSocketService(new ReactorNettyRequestUpgradeStrategy(() -> WebsocketServerSpec
                        .builder().maxFramePayloadLength(FrameDecoding.MAX_FRAME_PAYLOAD))) {
                    @Override
                    public Mono<Void> handleRequest(ServerWebExchange exchange, WebSocketHandler handler) {
                        return Mono.defer(() -> handshake(exchange, handler))
                                .onErrorMap(ServerWebInputException.class,
                                        refused -> new ServerWebInputException(NOT_AN_UPGRADE));
                    }

                    private Mono<Void> handshake(ServerWebExchange exchange, WebSocketHandler handler) {
                        if (handler instanceof ChangeWebSocketHandler changes) {
                            Channel channel = channelOf(exchange.getRequest());
                            if (channel != null) {
                                return super.handleRequest(exchange, socket -> changes.handle(socket, channel));
                            }
                        }
                        return super.handleRequest(exchange, handler);
                    }
                };
            }
        };
    }

    /** The Netty event loop of the connection a request came on; null off Reactor Netty. */
    static EventLoop eventLoopOf(ServerHttpRequest request) {
        Channel channel = channelOf(request);
        return channel == null ? null : channel.eventLoop();
    }

    /** The Netty channel a request came on (a WebSocket upgrade keeps it); null off Reactor Netty. */
    static Channel channelOf(ServerHttpRequest request) {
        return ServerHttpRequestDecorator.getNativeRequest(request) instanceof Connection connection
                ? connection.channel()
                : null;
    }

    /**
     * No HTTP server observation for the upgrade: it would stay open, with its context, for as long
     * as the socket does (the exchange completes when the session ends), costing heap per idle
     * subscriber and recording hours-long "requests". Sessions have their own metrics.
     */
    @Bean
    ObservationPredicate noObservationOfChangeStreamUpgrades() {
        return (name, context) -> !(context instanceof ServerRequestObservationContext request
                && PATH.equals(request.getCarrier().getPath().pathWithinApplication().value()));
    }

    /** The same stream over Server-Sent Events. */
    @Bean
    RouterFunction<ServerResponse> changeEventStreamRouter(ChangeEventStream stream) {
        return SpringdocRouteBuilder.route()
                .GET("/api/changes/stream", stream::stream, doc("changes", "changeStream",
                                "The change stream as Server-Sent Events (see the WebSocket protocol for the frames)")
                        .query("channel", "a channel to subscribe to; repeatable")
                        .query("filter", "a row filter (JSON), with one channel only")
                        .query("columns", "comma-separated fields of data to send")
                        .query("snapshot", "true: the matching rows first, then the changes after them")
                        .answersIn("text/event-stream", 200,
                                "database_change, snapshot, snapshot_end and resync_required events; id is the cursor")
                        .errors(400, 429))
                .build();
    }

    /** Change-log reads for sessions that resume or catch up, on the analytics pool. */
    @Bean
    ChangeLogReader changeLogReader(@Qualifier("analyticsDatabaseClient") DatabaseClient analytics,
            ChangeFrames frames, ChangeStreamProperties properties) {
        return new ChangeLogReader(analytics, frames, properties.replayBatch(), properties.replayBatchBytes().toBytes());
    }

    /**
     * On each upgrade to {@link #PATH}, once security has authenticated it: a user already holding
     * its most sessions on this replica gets 429 before the handshake (the session factory enforces
     * the same bound once more, for upgrades that race each other).
     */
    @Bean
    WebFilter changeStreamUpgradeFilter(ChangeSessions sessions, ProblemWriter problems) {
        return (exchange, chain) -> {
            if (!PATH.equals(exchange.getRequest().getPath().pathWithinApplication().value())) {
                return chain.filter(exchange);
            }
            return exchange.getPrincipal()
                    .filter(JwtAuthenticationToken.class::isInstance)
                    .map(principal -> Optional.of(Caller.fromToken((JwtAuthenticationToken) principal)))
                    .defaultIfEmpty(Optional.empty())
                    .flatMap(caller -> {
                        if (caller.isPresent() && !sessions.hasRoomFor(caller.get())) {
                            return tooManySessions(exchange, problems);
                        }
                        return chain.filter(exchange);
                    });
        };
    }

    static Mono<Void> tooManySessions(ServerWebExchange exchange, ProblemWriter problems) {
        exchange.getResponse().getHeaders().set(HttpHeaders.RETRY_AFTER, "5");
        return problems.write(exchange, HttpStatus.TOO_MANY_REQUESTS,
                "Too many open change-stream sessions for this user", List.of());
    }
}
