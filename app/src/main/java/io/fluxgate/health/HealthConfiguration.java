package io.fluxgate.health;

import org.springdoc.webflux.core.fn.SpringdocRouteBuilder;

import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.ReactiveHealthIndicator;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.web.reactive.function.server.RouterFunction;
import org.springframework.web.reactive.function.server.ServerResponse;

import static io.fluxgate.web.ApiDocs.doc;

/**
 * {@code GET /health/database} and the Actuator indicators built from the same checks. The probe
 * groups live in application.yaml: readiness includes {@code database}, liveness nothing external.
 */
@Configuration(proxyBeanMethods = false)
class HealthConfiguration {

    @Bean
    RouterFunction<ServerResponse> healthRouter(DependencyChecks checks) {
        return SpringdocRouteBuilder.route()
                .GET("/health/database", request -> checks.report().flatMap(report ->
                        ServerResponse.status(report.healthy() ? 200 : 503).bodyValue(report)),
                        doc("health", "databaseHealth", "Every dependency's check; 503 when one is unhealthy")
                                .open().ok(HealthReport.class).answers(503, "A check failed", HealthReport.class))
                .build();
    }

    @Bean
    ReactiveHealthIndicator databaseHealthIndicator(DependencyChecks checks) {
        return () -> checks.database().map(HealthConfiguration::toHealth);
    }

    @Bean
    ReactiveHealthIndicator cacheHealthIndicator(DependencyChecks checks) {
        return () -> checks.cache().map(HealthConfiguration::toHealth);
    }

    @Bean
    ReactiveHealthIndicator mongoHealthIndicator(DependencyChecks checks) {
        return () -> checks.mongo().map(HealthConfiguration::toHealth);
    }

    @Bean
    ReactiveHealthIndicator connectionPoolHealthIndicator(DependencyChecks checks) {
        return () -> checks.connectionPool().map(HealthConfiguration::toHealth);
    }

    private static Health toHealth(CheckResult check) {
        Health.Builder health = check.healthy() ? Health.up() : Health.down();
        return health.withDetail("responseTime", check.responseTime()).withDetail("message", check.message()).build();
    }
}
