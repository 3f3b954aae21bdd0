package io.fluxgate.db;

import java.time.Duration;
import java.util.stream.Collectors;

import io.r2dbc.proxy.core.QueryExecutionInfo;
import io.r2dbc.proxy.core.QueryInfo;
import io.r2dbc.proxy.listener.ProxyExecutionListener;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Times every statement of one pool and logs the slow ones. Only the SQL text (first 100 characters)
 * is logged: bind values may hold personal data or password hashes and never reach a log line.
 */
final class QueryMetricsListener implements ProxyExecutionListener {

    private static final Logger log = LoggerFactory.getLogger("io.fluxgate.db.SlowQueries");
    static final int LOGGED_SQL_CHARS = 100;

    private final String pool;
    private final QueryMetrics metrics;
    private final Duration slowThreshold;

    QueryMetricsListener(String pool, QueryMetrics metrics, Duration slowThreshold) {
        this.pool = pool;
        this.metrics = metrics;
        this.slowThreshold = slowThreshold;
    }

    @Override
    public void afterQuery(QueryExecutionInfo execInfo) {
        Duration elapsed = execInfo.getExecuteDuration();
        boolean slow = elapsed.compareTo(slowThreshold) >= 0;
        metrics.record(elapsed, execInfo.isSuccess(), slow);
        if (slow) {
            log.warn("Slow query on pool '{}' took {} ms: {}", pool, elapsed.toMillis(), sqlOf(execInfo));
        }
    }

    static String sqlOf(QueryExecutionInfo execInfo) {
        String sql = execInfo.getQueries().stream()
                .map(QueryInfo::getQuery)
                .collect(Collectors.joining("; "))
                .replaceAll("\\s+", " ")
                .strip();
        return sql.length() <= LOGGED_SQL_CHARS ? sql : sql.substring(0, LOGGED_SQL_CHARS) + "...";
    }
}
