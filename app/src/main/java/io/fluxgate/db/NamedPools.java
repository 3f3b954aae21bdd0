package io.fluxgate.db;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.ToDoubleFunction;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.r2dbc.pool.ConnectionPool;
import io.r2dbc.pool.ConnectionPoolConfiguration;
import io.r2dbc.proxy.ProxyConnectionFactory;
import io.r2dbc.spi.ConnectionFactories;
import io.r2dbc.spi.ConnectionFactory;
import io.r2dbc.spi.ConnectionFactoryOptions;
import io.r2dbc.spi.ValidationDepth;

import org.springframework.beans.factory.DisposableBean;

/**
 * The service's named connection pools, each wrapped by r2dbc-proxy so every statement is timed and
 * counted per pool. Owns the pools' lifecycle.
 */
public final class NamedPools implements DisposableBean {

    public static final String PRIMARY = "primary";
    public static final String ANALYTICS = "analytics";

    /**
     * Attempts per acquire: the second one replaces a pooled connection that died (say, the server
     * restarted) without failing the request. Each gets half the acquire timeout, so the configured
     * timeout bounds the caller's whole wait.
     */
    static final int ACQUIRE_ATTEMPTS = 2;

    private final Map<String, Entry> pools = new LinkedHashMap<>();

    private record Entry(NamedPool pool, QueryMetrics metrics, ConnectionFactory instrumented) {
    }

    NamedPools(ConnectionFactoryOptions options, DatabaseProperties properties, MeterRegistry registry) {
        add(PRIMARY, options, properties.pools().primary(), properties, registry);
        add(ANALYTICS, options, properties.pools().analytics(), properties, registry);
    }

    private void add(String name, ConnectionFactoryOptions options, DatabaseProperties.Pool settings,
            DatabaseProperties properties, MeterRegistry registry) {
        Duration attempt = settings.acquireTimeout().dividedBy(ACQUIRE_ATTEMPTS);
        ConnectionPoolConfiguration.Builder config = ConnectionPoolConfiguration.builder(ConnectionFactories.get(options))
                .name(name)
                .maxSize(settings.maxSize())
                // Kept below maxSize on purpose: initialSize == maxSize can pin every connection to
                // one event loop (r2dbc-pool#190).
                .initialSize(Math.min(settings.minIdle(), settings.maxSize() - 1))
                .minIdle(settings.minIdle())
                .maxIdleTime(settings.maxIdleTime())
                .acquireRetry(ACQUIRE_ATTEMPTS - 1)
                .maxAcquireTime(attempt)
                .maxCreateConnectionTime(attempt)
                .maxValidationTime(attempt);
        // The validation query (SELECT 1 by default) costs a round trip per acquire but finds any
        // dead connection, even one whose host vanished without closing it, within maxValidationTime.
        // Without one, the check is local (is the socket open?): no round trip, but a connection cut
        // silently reaches a request, whose query then waits for TCP to give up.
        if (settings.validationQuery() == null || settings.validationQuery().isBlank()) {
            config.validationDepth(ValidationDepth.LOCAL);
        } else {
            config.validationQuery(settings.validationQuery());
        }
        ConnectionPool pool = new ConnectionPool(config.build());
        QueryMetrics metrics = new QueryMetrics(name, registry);
        ConnectionFactory instrumented = ProxyConnectionFactory.builder(pool)
                .listener(new QueryMetricsListener(name, metrics, properties.slowQueryThreshold()))
                .build();
        NamedPool named = new NamedPool(name, pool, settings.maxSize());
        pools.put(name, new Entry(named, metrics, instrumented));
        registerGauges(named, registry);
    }

    private static void registerGauges(NamedPool pool, MeterRegistry registry) {
        Map<String, ToDoubleFunction<NamedPool>> states = Map.of(
                "total", p -> p.stats().totalCount(),
                "idle", p -> p.stats().idleCount(),
                "active", p -> p.stats().activeCount(),
                "pending", p -> p.stats().waitingCount());
        states.forEach((state, value) -> Gauge.builder("fluxgate.db.pool.connections", pool, value)
                .description("Connections of a named pool by state; pending counts callers waiting for one")
                .tags("pool", pool.name(), "state", state)
                .register(registry));
        Gauge.builder("fluxgate.db.pool.max", pool, NamedPool::maxSize)
                .description("The named pool's maximum size")
                .tag("pool", pool.name())
                .register(registry);
    }

    /** The pool's connection factory as the application should use it: pooled and instrumented. */
    public ConnectionFactory connectionFactory(String name) {
        return entry(name).instrumented();
    }

    public NamedPool pool(String name) {
        return entry(name).pool();
    }

    public List<NamedPool> all() {
        return pools.values().stream().map(Entry::pool).toList();
    }

    public QueryMetrics metrics(String name) {
        return entry(name).metrics();
    }

    /** Query counters summed over every pool. */
    public QueryMetrics.Snapshot totals() {
        return pools.values().stream()
                .map(entry -> entry.metrics().snapshot())
                .reduce(new QueryMetrics.Snapshot(0, 0, 0, 0), QueryMetrics.Snapshot::plus);
    }

    private Entry entry(String name) {
        Entry entry = pools.get(name);
        if (entry == null) {
            throw new IllegalArgumentException("No pool named " + name);
        }
        return entry;
    }

    @Override
    public void destroy() {
        pools.values().forEach(entry -> entry.pool().pool().dispose());
    }
}
