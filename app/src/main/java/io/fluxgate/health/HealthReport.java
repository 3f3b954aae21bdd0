package io.fluxgate.health;

import java.time.Instant;
import java.util.List;

import io.fluxgate.db.QueryMetrics;

/**
 * The body of {@code GET /health/database}.
 *
 * @param overall true when every check is healthy (a boolean, as the seed has it)
 * @param status the same as a word, {@code healthy} or {@code unhealthy}, for people reading logs
 * @param metrics statement counters summed over the named pools since start-up
 */
public record HealthReport(Instant timestamp, boolean overall, String status, List<CheckResult> checks,
        QueryMetrics.Snapshot metrics) {

    /** A report taken now, {@code overall} derived from the checks. */
    static HealthReport of(List<CheckResult> checks, QueryMetrics.Snapshot metrics) {
        boolean healthy = checks.stream().allMatch(CheckResult::healthy);
        return new HealthReport(Instant.now(), healthy, healthy ? "healthy" : "unhealthy", checks, metrics);
    }

    public boolean healthy() {
        return overall;
    }

    public List<String> failedChecks() {
        return checks.stream().filter(check -> !check.healthy()).map(CheckResult::name).toList();
    }
}
