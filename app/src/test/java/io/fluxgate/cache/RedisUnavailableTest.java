package io.fluxgate.cache;

import java.time.Duration;
import java.util.Map;

import io.fluxgate.support.IntegrationTest;
import io.micrometer.core.instrument.MeterRegistry;
import org.junit.jupiter.api.Test;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.http.HttpHeaders;
import org.springframework.http.MediaType;
import org.springframework.test.context.TestPropertySource;

import static org.assertj.core.api.Assertions.assertThat;

/** Redis on a port nobody listens on: every user endpoint still answers correctly, and quickly. */
@TestPropertySource(properties = "spring.data.redis.port=1")
class RedisUnavailableTest extends IntegrationTest {

    @Autowired
    MeterRegistry meters;

    @Test
    void everyUserEndpointWorksWithoutRedis() {
        long started = System.nanoTime();
        Account user = newUser("Resilient");
        Account admin = admin();
        get(user, "/api/users/{id}", user.id()).exchange().expectStatus().isOk()
                .expectBody().jsonPath("$.name").isEqualTo("Resilient");
        get(user, "/api/users/by-email?email={email}", user.email()).exchange().expectStatus().isOk();
        client.patch().uri("/api/users/{id}", user.id()).header(HttpHeaders.AUTHORIZATION, user.bearer())
                .contentType(MediaType.APPLICATION_JSON).bodyValue(Map.of("name", "Still Here"))
                .exchange().expectStatus().isOk();
        get(user, "/api/users/{id}", user.id()).exchange().expectStatus().isOk()
                .expectBody().jsonPath("$.name").isEqualTo("Still Here");
        get(user, "/api/users?limit=5").exchange().expectStatus().isOk();
        get(user, "/api/users/page?limit=5").exchange().expectStatus().isOk();
        get(user, "/api/users/active").exchange().expectStatus().isOk();
        get(user, "/api/users/stats").exchange().expectStatus().isOk();
        client.post().uri("/api/users/batch").header(HttpHeaders.AUTHORIZATION, admin.bearer())
                .contentType(MediaType.APPLICATION_JSON)
                .bodyValue(java.util.List.of(Map.of("name", "Batched", "email", uniqueEmail("batched"), "password", PASSWORD)))
                .exchange().expectStatus().isCreated();
        client.delete().uri("/api/users/{id}", user.id()).header(HttpHeaders.AUTHORIZATION, user.bearer())
                .exchange().expectStatus().isNoContent();
        get(admin, "/api/users/{id}", user.id()).exchange().expectStatus().isNotFound();
        // Fourteen requests, bcrypt included: seconds would mean something waited on Redis.
        assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(10));
        assertThat(meters.counter("fluxgate.cache.errors").count()).isPositive();
    }
}
