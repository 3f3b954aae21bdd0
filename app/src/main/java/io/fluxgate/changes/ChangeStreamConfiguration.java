package io.fluxgate.changes;

import java.util.Map;

import io.netty.channel.EventLoop;
import reactor.netty.Connection;

import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.Ordered;
import org.springframework.http.server.reactive.ServerHttpRequestDecorator;
import org.springframework.web.reactive.HandlerMapping;
import org.springframework.web.reactive.handler.SimpleUrlHandlerMapping;
import org.springframework.web.server.WebFilter;

@Configuration(proxyBeanMethods = false)
class ChangeStreamConfiguration {

    static final String PATH = "/ws/changes";

    @Bean
    HandlerMapping changeStreamMapping(ChangeWebSocketHandler handler) {
        return new SimpleUrlHandlerMapping(Map.of(PATH, handler), Ordered.HIGHEST_PRECEDENCE);
    }

    /**
     * Tells the handler which Netty event loop serves each upgraded connection (keyed by the
     * exchange's log prefix, which the handshake info carries), for as long as the connection lasts.
     */
    @Bean
    WebFilter changeStreamEventLoopFilter(ChangeWebSocketHandler handler) {
        return (exchange, chain) -> {
            if (PATH.equals(exchange.getRequest().getPath().pathWithinApplication().value())
                    && ServerHttpRequestDecorator.getNativeRequest(exchange.getRequest()) instanceof Connection connection) {
                String key = exchange.getLogPrefix();
                EventLoop loop = connection.channel().eventLoop();
                handler.eventLoops.put(key, loop);
                return chain.filter(exchange).doFinally(signal -> handler.eventLoops.remove(key));
            }
            return chain.filter(exchange);
        };
    }
}
