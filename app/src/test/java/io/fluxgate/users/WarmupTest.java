package io.fluxgate.users;

import java.util.Map;

import io.fluxgate.support.Instances;
import io.fluxgate.support.IntegrationTest;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.r2dbc.spi.ConnectionFactoryOptions;
import org.junit.jupiter.api.Test;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.core.env.Environment;
import org.springframework.http.HttpHeaders;
import org.springframework.r2dbc.core.DatabaseClient;
import org.springframework.test.web.reactive.server.WebTestClient;

import static org.assertj.core.api.Assertions.assertThat;

/** A new instance reads a user through its own HTTP stack before it starts, and records no activity for it. */
class WarmupTest extends IntegrationTest {

    @Autowired
    Environment environment;

    @Autowired
    ConnectionFactoryOptions postgresConnectionOptions;

    @Autowired
    DatabaseClient db;

    @Test
    void anInstanceServesItsHotRoutesToItselfBeforeItStartsAndRecordsNoActivityForIt() {
        Account someone = newUser("Warm Reader");
        long warmupUser = db.sql("SELECT id FROM users WHERE status = 'active' ORDER BY id LIMIT 1")
                .map(row -> row.get("id", Long.class)).one().block();
        // A long gathering interval keeps what the instance noted in memory, where the test can look.
        try (ConfigurableApplicationContext other = Instances.start(environment, postgresConnectionOptions, Map.of(
                "fluxgate.warmup.max-duration", "2s", "fluxgate.cache.write-behind.gather-interval", "1h"))) {
            // Start-up returns only after the warm-up: these requests were served before it was ready.
            long reads = other.getBean(MeterRegistry.class).find("http.server.requests").timers().stream()
                    .filter(timer -> String.valueOf(timer.getId().getTag("uri")).startsWith("/api/users"))
                    .filter(timer -> "200".equals(timer.getId().getTag("status")))
                    .mapToLong(Timer::count).sum();
            assertThat(reads).as("user reads served during the warm-up").isGreaterThan(10);
            // The fan-out warm-up ran on a private hub: the service's hub published nothing, wrote nothing.
            MeterRegistry meters = other.getBean(MeterRegistry.class);
            assertThat(meters.get("fluxgate.changes.events.in").counter().count()).isZero();
            assertThat(meters.get("fluxgate.changes.capture.lag").timer().count()).isZero();
            assertThat(meters.get("fluxgate.changes.frames.out").counter().count()).isZero();

            RecentActivity activity = other.getBean(RecentActivity.class);
            assertThat(activity.noted(Long.toString(warmupUser))).as("the warm-up is not the user's activity").isFalse();
            // The same instance does note a real request: the exclusion above is the warm-up's alone.
            WebTestClient.bindToServer().baseUrl("http://localhost:" + Instances.portOf(other)).build()
                    .get().uri("/api/users/{id}", someone.id()).header(HttpHeaders.AUTHORIZATION, someone.bearer())
                    .exchange().expectStatus().isOk();
            assertThat(activity.noted(Long.toString(someone.id()))).isTrue();
        }
    }
}
