package io.fluxgate.db;

import io.r2dbc.pool.ConnectionPool;
import io.r2dbc.pool.PoolMetrics;

/** One of the service's named connection pools, with the numbers operators ask for. */
public record NamedPool(String name, ConnectionPool pool, int maxSize) {

    /** Current statistics; all zero until the pool has been used. */
    public PoolStats stats() {
        return pool.getMetrics()
                .map(this::toStats)
                .orElseGet(() -> new PoolStats(0, 0, 0, 0, maxSize));
    }

    private PoolStats toStats(PoolMetrics metrics) {
        return new PoolStats(metrics.allocatedSize(), metrics.idleSize(), metrics.acquiredSize(),
                metrics.pendingAcquireSize(), maxSize);
    }

    /**
     * @param totalCount connections open (idle and in use)
     * @param idleCount open connections waiting in the pool
     * @param activeCount connections handed out right now
     * @param waitingCount callers queued for a connection
     * @param maxSize the pool's ceiling
     */
    public record PoolStats(int totalCount, int idleCount, int activeCount, int waitingCount, int maxSize) {
    }
}
