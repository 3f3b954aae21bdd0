package io.fluxgate.web;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

import org.springframework.beans.factory.annotation.Value;
import org.springframework.context.SmartLifecycle;
import org.springframework.core.Ordered;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.stereotype.Component;
import org.springframework.web.server.ServerWebExchange;
import org.springframework.web.server.WebFilter;
import org.springframework.web.server.WebFilterChain;

/**
 * The first step of shutdown. From the moment the application starts to stop, new requests get a
 * clean 503 (with {@code Connection: close}) instead of a reset, while requests already in flight
 * run to completion, for at most the shutdown phase timeout. Only then does the rest of shutdown
 * proceed: the web server's own graceful shutdown, the write-behind flush, the pools.
 *
 * <p>The listening socket stays open while draining on purpose: a client that connects late hears
 * "try again" rather than "connection refused". Probes and metrics pass through, so Kubernetes
 * sees readiness fall rather than a wall of 503s.
 */
@Component
public class ShutdownGate implements WebFilter, Ordered, SmartLifecycle {

    private static final Logger log = LoggerFactory.getLogger(ShutdownGate.class);
    private static final List<String> ALWAYS_OPEN = List.of("/actuator/");
    /** Responses that stream until their client leaves (Server-Sent Events). */
    private static final List<String> LONG_LIVED = List.of("/api/changes/stream");
    private static final Duration POLL = Duration.ofMillis(20);

    private final ProblemWriter problems;
    private final Duration drainTimeout;
    private final AtomicInteger inFlight = new AtomicInteger();
    private volatile boolean running;
    private volatile boolean draining;

    ShutdownGate(ProblemWriter problems,
            @Value("${spring.lifecycle.timeout-per-shutdown-phase:30s}") Duration drainTimeout) {
        this.problems = problems;
        this.drainTimeout = drainTimeout;
    }

    @Override
    public Mono<Void> filter(ServerWebExchange exchange, WebFilterChain chain) {
        String path = exchange.getRequest().getPath().value();
        if (ALWAYS_OPEN.stream().anyMatch(path::startsWith)) {
            return chain.filter(exchange);
        }
        if (draining) {
            exchange.getResponse().getHeaders().set(HttpHeaders.CONNECTION, "close");
            exchange.getResponse().getHeaders().set(HttpHeaders.RETRY_AFTER, "1");
            return problems.write(exchange, HttpStatus.SERVICE_UNAVAILABLE, "The service is shutting down; try again",
                    List.of());
        }
        if (isWebSocketUpgrade(exchange) || LONG_LIVED.contains(path)) {
            // A WebSocket or an event stream lives as long as its client; its session is ended at
            // shutdown instead (1001), so waiting for it here would only hold shutdown up.
            return chain.filter(exchange);
        }
        inFlight.incrementAndGet();
        return chain.filter(exchange).doFinally(signal -> inFlight.decrementAndGet());
    }

    private static boolean isWebSocketUpgrade(ServerWebExchange exchange) {
        return "websocket".equalsIgnoreCase(exchange.getRequest().getHeaders().getUpgrade());
    }

    /** Requests admitted and not yet answered. */
    public int inFlight() {
        return inFlight.get();
    }

    public boolean isDraining() {
        return draining;
    }

    @Override
    public int getOrder() {
        // Ahead of security: a caller without a token also hears 503, not 401, while draining.
        return Ordered.HIGHEST_PRECEDENCE;
    }

    @Override
    public void start() {
        draining = false;
        running = true;
    }

    @Override
    public void stop(Runnable callback) {
        draining = true;
        int waiting = inFlight.get();
        if (waiting > 0) {
            log.info("Shutting down: waiting up to {} for {} request(s) in flight", drainTimeout, waiting);
        }
        Flux.interval(Duration.ZERO, POLL)
                .takeUntil(tick -> inFlight.get() == 0)
                .take(drainTimeout)
                .then()
                .doFinally(signal -> {
                    if (inFlight.get() > 0) {
                        log.warn("Shutdown drain timed out with {} request(s) still in flight", inFlight.get());
                    }
                    running = false;
                    callback.run();
                })
                .subscribe();
    }

    @Override
    public void stop() {
        stop(() -> { });
    }

    @Override
    public boolean isRunning() {
        return running;
    }

    @Override
    public int getPhase() {
        // Stops first of all: before the WebSocket handler, the listener and the web server.
        return Integer.MAX_VALUE;
    }
}
