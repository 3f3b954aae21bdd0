package io.fluxgate.changes;

import java.util.List;
import java.util.Map;
import java.util.Optional;

import io.fluxgate.security.Caller;
import io.fluxgate.web.ProblemWriter;
import reactor.netty.Connection;

import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.Ordered;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.http.server.reactive.ServerHttpRequestDecorator;
import org.springframework.security.oauth2.server.resource.authentication.JwtAuthenticationToken;
import org.springframework.web.reactive.HandlerMapping;
import org.springframework.web.reactive.config.WebFluxConfigurer;
import org.springframework.web.reactive.handler.SimpleUrlHandlerMapping;
import org.springframework.web.reactive.socket.server.WebSocketService;
import org.springframework.web.reactive.socket.server.support.HandshakeWebSocketService;
import org.springframework.web.server.WebFilter;

@Configuration(proxyBeanMethods = false)
class ChangeStreamConfiguration {

    static final String PATH = "/ws/changes";
    /** The exchange (and so session) attribute that carries the connection's Netty event loop. */
    static final String EVENT_LOOP = ChangeStreamConfiguration.class.getName() + ".eventLoop";

    @Bean
    HandlerMapping changeStreamMapping(ChangeWebSocketHandler handler) {
        return new SimpleUrlHandlerMapping(Map.of(PATH, handler), Ordered.HIGHEST_PRECEDENCE);
    }

    /** Copies {@link #EVENT_LOOP} from the upgrade request's attributes into the WebSocket session's. */
    @Bean
    WebFluxConfigurer changeStreamSessionAttributes() {
        return new WebFluxConfigurer() {
            @Override
            public WebSocketService getWebSocketService() {
                HandshakeWebSocketService service = new HandshakeWebSocketService();
                service.setSessionAttributePredicate(EVENT_LOOP::equals);
                return service;
            }
        };
    }

    /**
     * On each upgrade to {@link #PATH}, once security has authenticated it: a user already holding
     * its most sessions on this replica gets 429 before the handshake (the handler enforces the same
     * bound once more, for upgrades that race each other), and the connection's Netty event loop is
     * put where the handler finds it.
     */
    @Bean
    WebFilter changeStreamUpgradeFilter(ChangeWebSocketHandler handler, ProblemWriter problems) {
        return (exchange, chain) -> {
            if (!PATH.equals(exchange.getRequest().getPath().pathWithinApplication().value())) {
                return chain.filter(exchange);
            }
            if (ServerHttpRequestDecorator.getNativeRequest(exchange.getRequest()) instanceof Connection connection) {
                exchange.getAttributes().put(EVENT_LOOP, connection.channel().eventLoop());
            }
            return exchange.getPrincipal()
                    .filter(JwtAuthenticationToken.class::isInstance)
                    .map(principal -> Optional.of(Caller.fromToken((JwtAuthenticationToken) principal)))
                    .defaultIfEmpty(Optional.empty())
                    .flatMap(caller -> {
                        if (caller.isPresent() && handler.sessions.isFull(caller.get().id())) {
                            exchange.getResponse().getHeaders().set(HttpHeaders.RETRY_AFTER, "5");
                            return problems.write(exchange, HttpStatus.TOO_MANY_REQUESTS,
                                    "Too many open change-stream sessions for this user", List.of());
                        }
                        return chain.filter(exchange);
                    });
        };
    }
}
