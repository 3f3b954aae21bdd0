package io.fluxgate.health;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeoutException;

import io.fluxgate.cache.RedisCache;
import io.fluxgate.changes.capture.wal.CaptureStatus;
import io.fluxgate.db.NamedPool;
import io.fluxgate.db.NamedPools;
import org.bson.Document;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

import org.springframework.beans.factory.annotation.Qualifier;
import org.springframework.data.mongodb.core.ReactiveMongoTemplate;
import org.springframework.r2dbc.core.DatabaseClient;
import org.springframework.stereotype.Component;

/**
 * The service's dependency checks. Each one is bounded by the check timeout and never fails: a
 * broken dependency becomes an unhealthy result whose message names no driver internals.
 */
@Component
public class DependencyChecks {

    public static final String DATABASE = "database";
    public static final String CACHE = "cache";
    public static final String MONGO = "mongo";
    public static final String QUERY_PERFORMANCE = "query_performance";
    public static final String CONNECTION_POOL = "connection_pool";
    public static final String CAPTURE = "capture";

    /** Representative of request traffic: an indexed filter and an aggregate over users. */
    static final String REPRESENTATIVE_QUERY = "SELECT count(*) AS active FROM users"
            + " WHERE status = 'active' AND last_active >= now() - interval '30 days'";

    private final DatabaseClient primary;
    private final DatabaseClient analytics;
    private final RedisCache cache;
    private final ReactiveMongoTemplate mongo;
    private final NamedPools pools;
    private final HealthProperties properties;
    private final CaptureStatus capture;

    DependencyChecks(DatabaseClient primary, @Qualifier("analyticsDatabaseClient") DatabaseClient analytics,
            RedisCache cache, ReactiveMongoTemplate mongo, NamedPools pools, HealthProperties properties,
            CaptureStatus capture) {
        this.capture = capture;
        this.primary = primary;
        this.analytics = analytics;
        this.cache = cache;
        this.mongo = mongo;
        this.pools = pools;
        this.properties = properties;
    }

    /** Every check, run concurrently; the report takes about as long as the slowest (bounded) check. */
    public Mono<HealthReport> report() {
        return Flux.mergeSequential(database(), cache(), mongo(), queryPerformance(), connectionPool(), capture())
                .collectList()
                .map(checks -> HealthReport.of(checks, pools.totals()));
    }

    /** {@code SELECT 1} on the pool that serves requests. */
    public Mono<CheckResult> database() {
        return timed(DATABASE, primary.sql("SELECT 1").map(row -> row.get(0)).one().thenReturn("Connected"));
    }

    /** Redis PING: the cache and the write-behind queue live there. */
    public Mono<CheckResult> cache() {
        return timed(CACHE, cache.ping());
    }

    public Mono<CheckResult> mongo() {
        return timed(MONGO, mongo.executeCommand(new Document("ping", 1)).thenReturn("Connected"));
    }

    /** The representative query must finish under the configured limit (it runs on the analytics pool). */
    public Mono<CheckResult> queryPerformance() {
        long limit = properties.queryPerformanceLimit().toMillis();
        return timed(QUERY_PERFORMANCE, analytics.sql(REPRESENTATIVE_QUERY).map(row -> row.get(0)).one().thenReturn(""))
                .map(check -> {
                    if (!check.healthy()) {
                        return check;
                    }
                    String message = "Representative query took " + check.responseTime() + " ms (limit " + limit + " ms)";
                    return check.responseTime() < limit
                            ? CheckResult.healthy(QUERY_PERFORMANCE, check.responseTime(), message)
                            : CheckResult.unhealthy(QUERY_PERFORMANCE, check.responseTime(), message);
                });
    }

    /**
     * Logical capture only (none in trigger mode): the slot exists, is valid, a leader reads it, and it
     * keeps less WAL than the configured bound.
     */
    public Mono<CheckResult> capture() {
        return Mono.defer(() -> {
            long started = System.nanoTime();
            return capture.slot().timeout(properties.checkTimeout()).map(slot -> {
                Map<String, Object> stats = new LinkedHashMap<>();
                stats.put("slot", slot.name());
                stats.put("active", slot.active());
                stats.put("walStatus", slot.walStatus());
                stats.put("lagBytes", slot.lagBytes());
                stats.put("lagSeconds", slot.lagSeconds());
                String message = !slot.exists() ? "No capture slot"
                        : !slot.active() ? "No capture leader is reading the slot"
                        : "Capture slot kept " + slot.lagBytes() + " bytes of WAL (limit " + slot.maxLagBytes() + ")";
                return new CheckResult(CAPTURE, slot.healthy(), elapsedMs(started), message, stats, null, null);
            }).onErrorResume(error -> Mono.just(CheckResult.unhealthy(CAPTURE, elapsedMs(started), describe(error))));
        });
    }

    /** Fails when any named pool has more than the configured share of its connections in use. */
    public Mono<CheckResult> connectionPool() {
        return Mono.fromSupplier(() -> {
            Map<String, Object> byPool = new LinkedHashMap<>();
            double busiest = 0;
            for (NamedPool pool : pools.all()) {
                NamedPool.PoolStats stats = pool.stats();
                double utilization = stats.maxSize() == 0 ? 0 : (double) stats.activeCount() / stats.maxSize();
                busiest = Math.max(busiest, utilization);
                Map<String, Object> counts = counts(stats);
                counts.put("maxSize", stats.maxSize());
                counts.put("utilizationRate", round(utilization));
                byPool.put(pool.name(), counts);
            }
            Map<String, Object> stats = counts(pools.pool(NamedPools.PRIMARY).stats());
            boolean healthy = busiest < properties.poolUtilizationLimit();
            String message = String.format("Busiest pool at %.0f%% of its connections (limit %.0f%%)",
                    busiest * 100, properties.poolUtilizationLimit() * 100);
            return new CheckResult(CONNECTION_POOL, healthy, 0, message, stats, round(busiest), byPool);
        });
    }

    /** The contract's {@code stats} fields, in its order. */
    private static Map<String, Object> counts(NamedPool.PoolStats stats) {
        Map<String, Object> counts = new LinkedHashMap<>();
        counts.put("totalCount", stats.totalCount());
        counts.put("idleCount", stats.idleCount());
        counts.put("waitingCount", stats.waitingCount());
        return counts;
    }

    /** Runs the probe under the check timeout; its value is the healthy message. */
    private Mono<CheckResult> timed(String name, Mono<String> probe) {
        return Mono.defer(() -> {
            long started = System.nanoTime();
            return probe.timeout(properties.checkTimeout())
                    .map(message -> CheckResult.healthy(name, elapsedMs(started), message))
                    .switchIfEmpty(Mono.fromSupplier(() -> CheckResult.unhealthy(name, elapsedMs(started), "No answer")))
                    .onErrorResume(error -> Mono.just(CheckResult.unhealthy(name, elapsedMs(started), describe(error))));
        });
    }

    private String describe(Throwable error) {
        if (error instanceof TimeoutException) {
            return "No answer within " + properties.checkTimeout().toMillis() + " ms";
        }
        // The exception type says enough (refused, reset, auth) without leaking driver text.
        Throwable root = error;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        return "Unavailable (" + root.getClass().getSimpleName() + ")";
    }

    private static long elapsedMs(long startedNanos) {
        return (System.nanoTime() - startedNanos) / 1_000_000;
    }

    private static double round(double value) {
        return Math.round(value * 1000.0) / 1000.0;
    }
}
