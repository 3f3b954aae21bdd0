package io.fluxgate.accounts;

import java.time.Duration;

import org.springframework.boot.context.properties.ConfigurationProperties;

/**
 * Settings of {@code fluxgate.accounts.*}.
 *
 * @param transferRetries times a transfer transaction runs again after a serialization failure or
 *        deadlock before the request answers 503
 * @param transferConcurrency transfer transactions this replica runs at once; keep it well under the
 *        primary pool's size so transfers never take every connection
 * @param transferQueue transfers that may wait for their turn; past it a transfer answers 503
 * @param transferQueueTimeout the longest a transfer waits for its turn before answering 503
 * @param transfersPerUser transfers one user may have waiting or running on this replica; past it
 *        429, so no one account can fill the queue for everyone else
 */
@ConfigurationProperties("fluxgate.accounts")
record AccountProperties(int transferRetries, int transferConcurrency, int transferQueue, Duration transferQueueTimeout,
        int transfersPerUser) {
}
