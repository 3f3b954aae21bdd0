package io.fluxgate.changes;

import java.util.List;
import java.util.Map;
import java.util.Optional;

import io.fluxgate.security.Caller;
import io.fluxgate.web.ProblemWriter;
import reactor.core.publisher.Mono;
import reactor.netty.Connection;

import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.Ordered;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.http.server.reactive.ServerHttpRequestDecorator;
import org.springframework.web.reactive.HandlerMapping;
import org.springframework.web.reactive.handler.SimpleUrlHandlerMapping;
import org.springframework.security.oauth2.server.resource.authentication.JwtAuthenticationToken;
import org.springframework.web.server.ServerWebExchange;
import org.springframework.web.server.WebFilter;
import org.springframework.web.server.WebFilterChain;

@Configuration(proxyBeanMethods = false)
class ChangeStreamConfiguration {

    static final String PATH = "/ws/changes";

    @Bean
    HandlerMapping changeStreamMapping(ChangeWebSocketHandler handler) {
        return new SimpleUrlHandlerMapping(Map.of(PATH, handler), Ordered.HIGHEST_PRECEDENCE);
    }

    /**
     * On each upgrade to {@link #PATH}: holds the user to its session limit (429 past it, before the
     * handshake) and tells the handler which Netty event loop serves the connection (keyed by the
     * exchange's log prefix, which the handshake info carries). Both last as long as the connection:
     * the chain completes when the WebSocket session ends.
     */
    @Bean
    WebFilter changeStreamUpgradeFilter(ChangeWebSocketHandler handler, ProblemWriter problems) {
        return (exchange, chain) -> {
            if (!PATH.equals(exchange.getRequest().getPath().pathWithinApplication().value())) {
                return chain.filter(exchange);
            }
            return exchange.getPrincipal()
                    .filter(JwtAuthenticationToken.class::isInstance)
                    .map(principal -> Optional.of(Caller.fromToken((JwtAuthenticationToken) principal)))
                    .defaultIfEmpty(Optional.empty())
                    .flatMap(caller -> caller.isEmpty() ? chain.filter(exchange) : upgrade(exchange, chain, caller.get(),
                            handler, problems));
        };
    }

    private static Mono<Void> upgrade(ServerWebExchange exchange, WebFilterChain chain, Caller caller,
            ChangeWebSocketHandler handler, ProblemWriter problems) {
        if (!handler.sessions.tryOpen(caller.id())) {
            exchange.getResponse().getHeaders().set(HttpHeaders.RETRY_AFTER, "5");
            return problems.write(exchange, HttpStatus.TOO_MANY_REQUESTS,
                    "Too many open change-stream sessions for this user", List.of());
        }
        String key = exchange.getLogPrefix();
        if (ServerHttpRequestDecorator.getNativeRequest(exchange.getRequest()) instanceof Connection connection) {
            handler.eventLoops.put(key, connection.channel().eventLoop());
        }
        return chain.filter(exchange).doFinally(signal -> {
            handler.eventLoops.remove(key);
            handler.sessions.closed(caller.id());
        });
    }
}
