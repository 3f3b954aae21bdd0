package io.fluxgate.web;

import java.util.List;

import reactor.core.publisher.Mono;
import reactor.netty.http.server.HttpServerRequest;

import org.springframework.core.Ordered;
import org.springframework.http.HttpStatus;
import org.springframework.http.server.reactive.ServerHttpRequest;
import org.springframework.http.server.reactive.ServerHttpRequestDecorator;
import org.springframework.stereotype.Component;
import org.springframework.web.server.ServerWebExchange;
import org.springframework.web.server.WebFilter;
import org.springframework.web.server.WebFilterChain;

/**
 * A request with more header fields than {@code fluxgate.http.max-request-headers} answers 431. Their
 * total size is bounded before this by the decoder ({@code server.max-http-request-header-size}); the
 * count keeps thousands of tiny headers from each costing every later reader a look.
 */
@Component
public class RequestHeaderLimit implements WebFilter, Ordered {

    private final int maxHeaders;
    private final ProblemWriter problems;

    RequestHeaderLimit(HttpLimitsProperties limits, ProblemWriter problems) {
        this.maxHeaders = limits.maxRequestHeaders();
        this.problems = problems;
    }

    @Override
    public Mono<Void> filter(ServerWebExchange exchange, WebFilterChain chain) {
        if (fields(exchange.getRequest()) > maxHeaders) {
            return problems.write(exchange, HttpStatus.REQUEST_HEADER_FIELDS_TOO_LARGE,
                    "A request may carry at most " + maxHeaders + " header fields", List.of());
        }
        return chain.filter(exchange);
    }

    /** Header fields, repeated names counted each time: Netty keeps the count, so no walk is needed. */
    private static int fields(ServerHttpRequest request) {
        if (ServerHttpRequestDecorator.getNativeRequest(request) instanceof HttpServerRequest netty) {
            return netty.requestHeaders().size();
        }
        return request.getHeaders().headerSet().stream().mapToInt(header -> header.getValue().size()).sum();
    }

    @Override
    public int getOrder() {
        // Beside the body limit, ahead of security: nothing is checked for a request refused here.
        return Ordered.HIGHEST_PRECEDENCE + 1;
    }
}
