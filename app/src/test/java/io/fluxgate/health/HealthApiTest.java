package io.fluxgate.health;

import java.time.Duration;
import java.util.List;

import io.fluxgate.support.IntegrationTest;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

import org.springframework.test.context.TestPropertySource;

import static org.assertj.core.api.Assertions.assertThat;

class HealthApiTest {

    static final List<String> CHECKS = List.of("database", "cache", "mongo", "query_performance", "connection_pool");

    @Nested
    class AllUp extends IntegrationTest {

        @Test
        void everyCheckPassesAndTheMetricsBlockCountsQueries() {
            newUser("Counted");
            JsonNode report = client.get().uri("/health/database").exchange().expectStatus().isOk()
                    .expectBody(JsonNode.class).returnResult().getResponseBody();
            assertThat(report.path("overall").isBoolean()).isTrue();
            assertThat(report.path("overall").asBoolean()).isTrue();
            assertThat(report.path("status").asString()).isEqualTo("healthy");
            assertThat(report.path("timestamp").asString()).isNotEmpty();
            assertThat(report.path("checks").valueStream().map(check -> check.path("name").asString()))
                    .containsExactlyElementsOf(CHECKS);
            report.path("checks").forEach(check -> {
                assertThat(check.path("healthy").asBoolean()).as(check.toString()).isTrue();
                assertThat(check.path("responseTime").isIntegralNumber()).isTrue();
                assertThat(check.path("message").asString()).isNotEmpty();
            });
            JsonNode pool = report.path("checks").get(4);
            assertThat(pool.path("stats").has("totalCount")).isTrue();
            assertThat(pool.path("stats").has("idleCount")).isTrue();
            assertThat(pool.path("stats").has("waitingCount")).isTrue();
            assertThat(pool.path("utilizationRate").asDouble()).isBetween(0.0, 1.0);
            assertThat(pool.path("pools").has("analytics")).isTrue();
            JsonNode metrics = report.path("metrics");
            assertThat(metrics.path("queries").asLong()).isPositive();
            assertThat(metrics.has("slowQueries")).isTrue();
            assertThat(metrics.has("errors")).isTrue();
            assertThat(metrics.path("avgResponseTime").asDouble()).isPositive();
        }

        @Test
        void probesAndIndicatorsAreUp() {
            client.get().uri("/actuator/health/readiness").exchange().expectStatus().isOk()
                    .expectBody().jsonPath("$.status").isEqualTo("UP");
            client.get().uri("/actuator/health/liveness").exchange().expectStatus().isOk()
                    .expectBody().jsonPath("$.status").isEqualTo("UP");
            client.get().uri("/actuator/health").exchange().expectStatus().isOk()
                    .expectBody()
                    .jsonPath("$.components.database.status").isEqualTo("UP")
                    .jsonPath("$.components.cache.status").isEqualTo("UP")
                    .jsonPath("$.components.mongo.status").isEqualTo("UP")
                    .jsonPath("$.components.connectionPool.status").isEqualTo("UP");
        }

        @Test
        void prometheusExposesPoolsQueriesAndTransfers() {
            newUser("Measured");
            String scrape = client.get().uri("/actuator/prometheus").exchange().expectStatus().isOk()
                    .expectBody(String.class).returnResult().getResponseBody();
            assertThat(scrape)
                    .contains("fluxgate_db_pool_connections{pool=\"primary\",state=\"active\"}")
                    .contains("fluxgate_db_pool_connections{pool=\"analytics\",state=\"idle\"}")
                    .contains("fluxgate_db_pool_max{pool=\"primary\"} 20")
                    .contains("fluxgate_db_queries_seconds_count{outcome=\"success\",pool=\"primary\"}")
                    .contains("fluxgate_db_slow_queries_total{pool=\"primary\"}")
                    .contains("fluxgate_transfers_total{outcome=\"insufficient_funds\"}")
                    .contains("fluxgate_health_failing_checks");
        }
    }

    /** Redis on a port nobody listens on: the report names cache and still answers promptly. */
    @Nested
    @TestPropertySource(properties = {"spring.data.redis.port=1", "fluxgate.health.check-timeout=1s"})
    class CacheDown extends IntegrationTest {

        @Test
        void theReportIs503NamingCacheWithinTheCheckTimeout() {
            long started = System.nanoTime();
            JsonNode report = client.get().uri("/health/database").exchange().expectStatus().isEqualTo(503)
                    .expectBody(JsonNode.class).returnResult().getResponseBody();
            assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofMillis(1900));
            assertThat(report.path("overall").asBoolean(true)).isFalse();
            assertThat(report.path("status").asString()).isEqualTo("unhealthy");
            report.path("checks").forEach(check -> assertThat(check.path("healthy").asBoolean())
                    .as(check.toString()).isEqualTo(!check.path("name").asString().equals("cache")));
            JsonNode cache = report.path("checks").get(1);
            assertThat(cache.path("message").asString()).startsWith("Unavailable").doesNotContain("127.0.0.1");
        }

        @Test
        void readinessStaysUpBecauseOnlyPostgresDecidesIt() {
            client.get().uri("/actuator/health/readiness").exchange().expectStatus().isOk();
            client.get().uri("/actuator/health").exchange().expectStatus().isEqualTo(503)
                    .expectBody().jsonPath("$.components.cache.status").isEqualTo("DOWN");
        }
    }
}
