package io.fluxgate.db;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import io.fluxgate.security.TokenService;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.webtestclient.autoconfigure.AutoConfigureWebTestClient;
import org.springframework.http.HttpHeaders;
import org.springframework.http.MediaType;
import org.springframework.test.context.ActiveProfiles;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import org.springframework.test.web.reactive.server.WebTestClient;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * With PostgreSQL out of reach, requests must fail fast with 503 (the pools' acquire timeout is 2 s),
 * never hang: once for a port nobody listens on, once for a server that accepts connections and
 * then never answers.
 */
class DatabaseUnavailableTest {

    private static final Duration BOUND = Duration.ofSeconds(3);

    @SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
            // Its own cache key space: a user cached by another context must not answer for the database.
            properties = {"spring.flyway.enabled=false", "fluxgate.cache.key-prefix=fluxgate-test-db-down:",
                    // The production default, which the test profile raises for busy machines.
                    "fluxgate.db.pools.primary.acquire-timeout=2s", "fluxgate.db.pools.analytics.acquire-timeout=2s"})
    @AutoConfigureWebTestClient(timeout = "10s")
    @ActiveProfiles("test")
    abstract static class Contract {

        @Autowired
        WebTestClient client;

        @Autowired
        TokenService tokens;

        @Test
        void readsAnswer503WithinTheAcquireTimeout() {
            String token = tokens.issue(1, List.of("USER"), 1).token();
            long started = System.nanoTime();
            client.get().uri("/api/users/{id}", 1_000_000 + (int) (Math.random() * 1_000_000)).header(HttpHeaders.AUTHORIZATION, "Bearer " + token)
                    .exchange()
                    .expectStatus().isEqualTo(503)
                    .expectHeader().contentType(MediaType.APPLICATION_PROBLEM_JSON)
                    .expectHeader().exists("Retry-After")
                    .expectBody()
                    .jsonPath("$.detail").isEqualTo("The database is unavailable; try again shortly");
            assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(BOUND);
        }

        /** Kubernetes takes the pod out of the Service but does not restart it: the database is not its fault. */
        @Test
        void readinessIsDownAndLivenessStaysUp() {
            long started = System.nanoTime();
            client.get().uri("/actuator/health/readiness").exchange()
                    .expectStatus().isEqualTo(503)
                    .expectBody().jsonPath("$.status").isEqualTo("DOWN");
            client.get().uri("/actuator/health/liveness").exchange()
                    .expectStatus().isOk()
                    .expectBody().jsonPath("$.status").isEqualTo("UP");
            client.get().uri("/health/database").exchange()
                    .expectStatus().isEqualTo(503)
                    .expectBody()
                    .jsonPath("$.overall").isEqualTo(false)
                    .jsonPath("$.status").isEqualTo("unhealthy")
                    .jsonPath("$.checks[?(@.name == 'database')].healthy").isEqualTo(false)
                    .jsonPath("$.checks[?(@.name == 'cache')].healthy").isEqualTo(true);
            assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(BOUND.multipliedBy(2));
        }

        @Test
        void writesAnswer503Too() {
            long started = System.nanoTime();
            client.post().uri("/api/auth/register").contentType(MediaType.APPLICATION_JSON)
                    .bodyValue(Map.of("name", "Nobody", "email", "nobody@example.com", "password", "password123"))
                    .exchange()
                    .expectStatus().isEqualTo(503);
            assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(BOUND);
        }
    }

    @Nested
    class ClosedPort extends Contract {

        @DynamicPropertySource
        static void closedPort(DynamicPropertyRegistry registry) throws IOException {
            int port;
            try (ServerSocket socket = new ServerSocket(0)) {
                port = socket.getLocalPort();
            }
            int closed = port;
            registry.add("fluxgate.db.host", () -> "127.0.0.1");
            registry.add("fluxgate.db.port", () -> closed);
        }
    }

    @Nested
    class SilentServer extends Contract {

        /** Accepts TCP connections (the kernel completes them from the backlog) and never says a word. */
        static ServerSocket silent;

        @DynamicPropertySource
        static void silentServer(DynamicPropertyRegistry registry) throws IOException {
            silent = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
            registry.add("fluxgate.db.host", () -> "127.0.0.1");
            registry.add("fluxgate.db.port", silent::getLocalPort);
        }

        @AfterAll
        static void close() throws IOException {
            silent.close();
        }
    }
}
