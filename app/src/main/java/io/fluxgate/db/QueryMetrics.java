package io.fluxgate.db;

import java.time.Duration;
import java.util.concurrent.TimeUnit;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;

/**
 * Query counters of one named pool, kept in Micrometer so {@code /actuator/prometheus} and the
 * health report read the same numbers.
 */
public final class QueryMetrics {

    private final Timer succeeded;
    private final Timer failed;
    private final Counter slow;

    public QueryMetrics(String pool, MeterRegistry registry) {
        this.succeeded = timer(registry, pool, "success");
        this.failed = timer(registry, pool, "error");
        this.slow = Counter.builder("fluxgate.db.slow.queries")
                .description("Statements slower than the slow-query threshold")
                .tag("pool", pool)
                .register(registry);
    }

    private static Timer timer(MeterRegistry registry, String pool, String outcome) {
        return Timer.builder("fluxgate.db.queries")
                .description("Statements executed, by pool and outcome")
                .tags("pool", pool, "outcome", outcome)
                .register(registry);
    }

    void record(Duration elapsed, boolean success, boolean wasSlow) {
        (success ? succeeded : failed).record(elapsed);
        if (wasSlow) {
            slow.increment();
        }
    }

    /** A consistent-enough snapshot: each counter is read once. */
    public Snapshot snapshot() {
        long ok = succeeded.count();
        long errors = failed.count();
        long queries = ok + errors;
        double totalMs = succeeded.totalTime(TimeUnit.MILLISECONDS) + failed.totalTime(TimeUnit.MILLISECONDS);
        return new Snapshot(queries, errors, (long) slow.count(), queries == 0 ? 0 : totalMs / queries);
    }

    /**
     * @param queries statements executed
     * @param errors statements that failed
     * @param slowQueries statements over the slow-query threshold
     * @param avgResponseTime mean statement time in milliseconds
     */
    public record Snapshot(long queries, long errors, long slowQueries, double avgResponseTime) {

        public Snapshot plus(Snapshot other) {
            long total = queries + other.queries;
            double mean = total == 0 ? 0
                    : (avgResponseTime * queries + other.avgResponseTime * other.queries) / total;
            return new Snapshot(total, errors + other.errors, slowQueries + other.slowQueries, mean);
        }
    }
}
