package io.fluxgate.accounts;

import org.springframework.boot.context.properties.ConfigurationProperties;

/**
 * Settings of {@code fluxgate.accounts.*}.
 *
 * @param transferRetries times a transfer transaction runs again after a serialization failure or
 *        deadlock before the request answers 503
 */
@ConfigurationProperties("fluxgate.accounts")
record AccountProperties(int transferRetries) {
}
