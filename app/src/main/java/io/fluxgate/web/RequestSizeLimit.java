package io.fluxgate.web;

import java.util.List;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Mono;

import org.springframework.beans.factory.annotation.Value;
import org.springframework.core.Ordered;
import org.springframework.http.HttpStatus;
import org.springframework.stereotype.Component;
import org.springframework.util.unit.DataSize;
import org.springframework.web.server.ServerWebExchange;
import org.springframework.web.server.WebFilter;
import org.springframework.web.server.WebFilterChain;

/**
 * Request bodies over {@code spring.http.codecs.max-in-memory-size} (256 KiB unless configured) answer
 * 413. A declared {@code Content-Length} over the limit is refused here, before a byte of the body is
 * read; a chunked body is cut off by the codecs at the same limit, which {@link ProblemExceptionHandler}
 * answers the same way.
 */
@Component
public class RequestSizeLimit implements WebFilter, Ordered {

    static final String DETAIL = "The request body is too large";
    private static final Logger log = LoggerFactory.getLogger(RequestSizeLimit.class);

    private final long maxBytes;
    private final ProblemWriter problems;

    RequestSizeLimit(@Value("${spring.http.codecs.max-in-memory-size:256KB}") DataSize limit, ProblemWriter problems) {
        this.maxBytes = limit.toBytes();
        this.problems = problems;
    }

    @Override
    public Mono<Void> filter(ServerWebExchange exchange, WebFilterChain chain) {
        long declared = exchange.getRequest().getHeaders().getContentLength();
        if (declared > maxBytes) {
            log.info("Request body of {} bytes refused (limit {}): {} {}", declared, maxBytes,
                    exchange.getRequest().getMethod(), exchange.getRequest().getPath());
            return problems.write(exchange, HttpStatus.CONTENT_TOO_LARGE, DETAIL, List.of());
        }
        return chain.filter(exchange);
    }

    @Override
    public int getOrder() {
        // Right after the shutdown gate, ahead of security: no token is checked for a body we refuse.
        return Ordered.HIGHEST_PRECEDENCE + 1;
    }
}
