package io.fluxgate.health;

import java.time.Instant;
import java.util.List;

import io.fluxgate.db.QueryMetrics;

/**
 * The body of {@code GET /health/database}.
 *
 * @param overall {@code healthy} when every check is, else {@code unhealthy}
 * @param metrics statement counters summed over the named pools since start-up
 */
public record HealthReport(Instant timestamp, String overall, List<CheckResult> checks, QueryMetrics.Snapshot metrics) {

    private static final String HEALTHY = "healthy";

    /** A report taken now, {@code overall} derived from the checks. */
    static HealthReport of(List<CheckResult> checks, QueryMetrics.Snapshot metrics) {
        boolean healthy = checks.stream().allMatch(CheckResult::healthy);
        return new HealthReport(Instant.now(), healthy ? HEALTHY : "unhealthy", checks, metrics);
    }

    public boolean healthy() {
        return HEALTHY.equals(overall);
    }

    public List<String> failedChecks() {
        return checks.stream().filter(check -> !check.healthy()).map(CheckResult::name).toList();
    }
}
