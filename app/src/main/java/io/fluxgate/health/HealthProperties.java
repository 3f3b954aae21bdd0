package io.fluxgate.health;

import java.time.Duration;

import org.springframework.boot.context.properties.ConfigurationProperties;

/**
 * Settings of {@code fluxgate.health.*}.
 *
 * @param checkTimeout longest a single check may take before it counts as failed; the checks run
 *        concurrently, so this also bounds the whole report
 * @param monitorInterval how often the background monitor runs the checks
 * @param queryPerformanceLimit the representative query must answer faster than this
 * @param poolUtilizationLimit share of a pool's connections in use (0..1) above which the pool
 *        check fails
 */
@ConfigurationProperties("fluxgate.health")
public record HealthProperties(Duration checkTimeout, Duration monitorInterval, Duration queryPerformanceLimit,
        double poolUtilizationLimit) {
}
