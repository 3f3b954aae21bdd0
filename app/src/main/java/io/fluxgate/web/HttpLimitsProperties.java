package io.fluxgate.web;

import java.time.Duration;

import org.springframework.boot.context.properties.ConfigurationProperties;

/**
 * Bounds on what one HTTP connection may hold ({@code fluxgate.http.*}); Boot's own
 * {@code server.netty.idle-timeout} and header-size settings complete them (see the README).
 *
 * @param requestHeaderTimeout a connection must deliver a request's complete line and headers within
 *        this long of its first byte (the first request: of the connection's opening), however slowly
 *        it trickles them; else it is answered 408 (when part of a request came) and closed
 * @param requestBodyTimeout the longest a request's body may take to arrive, once its headers have
 * @param maxRequestHeaders most header fields a request may carry; past it 431
 */
@ConfigurationProperties("fluxgate.http")
public record HttpLimitsProperties(Duration requestHeaderTimeout, Duration requestBodyTimeout, int maxRequestHeaders) {
}
