package io.fluxgate.profiles;

import java.time.Duration;

import org.springframework.boot.context.properties.ConfigurationProperties;

/**
 * MongoDB client settings ({@code fluxgate.mongo.*}); the server itself is {@code spring.mongodb.uri}
 * (environment {@code MONGODB_URI}).
 *
 * @param maxPoolSize most connections per server
 * @param minPoolSize connections kept open
 * @param maxIdleTime idle connections older than this are closed
 * @param serverSelectionTimeout how long an operation waits for a usable server before failing (503)
 * @param socketTimeout how long a read may wait on the socket
 * @param retryWrites retry a write once after a network error or failover
 * @param retryReads retry a read once after a network error or failover
 */
@ConfigurationProperties("fluxgate.mongo")
public record MongoSettings(
        int maxPoolSize,
        int minPoolSize,
        Duration maxIdleTime,
        Duration serverSelectionTimeout,
        Duration socketTimeout,
        boolean retryWrites,
        boolean retryReads) {
}
