package io.fluxgate.profiles;

import java.io.IOException;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.Map;

import io.fluxgate.security.TokenService;
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

/** MongoDB out of reach: profile requests answer 503 within the server-selection timeout, never hang. */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
        properties = {"spring.flyway.enabled=false", "fluxgate.mongo.server-selection-timeout=1s"})
@AutoConfigureWebTestClient(timeout = "10s")
@ActiveProfiles("test")
class MongoUnavailableTest {

    @DynamicPropertySource
    static void nothingListens(DynamicPropertyRegistry registry) throws IOException {
        int port;
        try (ServerSocket socket = new ServerSocket(0)) {
            port = socket.getLocalPort();
        }
        int closed = port;
        registry.add("spring.mongodb.uri", () -> "mongodb://127.0.0.1:" + closed + "/fluxgate");
        registry.add("fluxgate.db.port", () -> closed);
    }

    @Autowired
    WebTestClient client;

    @Autowired
    TokenService tokens;

    @Test
    void readsAndWritesAnswer503Promptly() {
        String bearer = "Bearer " + tokens.issue(1, "someone@example.com").token();
        long started = System.nanoTime();
        client.get().uri("/api/profiles/0123456789abcdef01234567").header(HttpHeaders.AUTHORIZATION, bearer)
                .exchange()
                .expectStatus().isEqualTo(503)
                .expectHeader().contentType(MediaType.APPLICATION_PROBLEM_JSON);
        client.post().uri("/api/profiles").header(HttpHeaders.AUTHORIZATION, bearer)
                .contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("name", "Nobody", "email", "nobody@example.com", "password", "password123"))
                .exchange()
                .expectStatus().isEqualTo(503);
        assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(5));
    }
}
