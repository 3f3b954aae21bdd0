package io.fluxgate.health;

import java.util.Map;

import com.fasterxml.jackson.annotation.JsonInclude;

/**
 * One dependency check as {@code /health/database} reports it.
 *
 * @param responseTime milliseconds the check took
 * @param stats the connection_pool check only: the primary pool's counts
 * @param utilizationRate the connection_pool check only: busiest pool's share of connections in use
 * @param pools the connection_pool check only: every named pool's counts
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record CheckResult(String name, boolean healthy, long responseTime, String message, Map<String, Object> stats,
        Double utilizationRate, Map<String, Object> pools) {

    static CheckResult healthy(String name, long responseTime, String message) {
        return new CheckResult(name, true, responseTime, message, null, null, null);
    }

    static CheckResult unhealthy(String name, long responseTime, String message) {
        return new CheckResult(name, false, responseTime, message, null, null, null);
    }
}
