package io.fluxgate.profiles;

import java.io.IOException;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import io.fluxgate.security.TokenService;
import io.fluxgate.support.LocalPostgres;
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
 * MongoDB out of reach, PostgreSQL up (so the caller's token is checked as usual): profile requests
 * answer 503 within the server-selection timeout, never hang.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
        properties = "fluxgate.mongo.server-selection-timeout=1s")
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
        LocalPostgres postgres = LocalPostgres.fromEnvironment();
        postgres.propertiesFor(postgres.throwawayDatabase()).accept(registry);
    }

    @Autowired
    WebTestClient client;

    @Autowired
    TokenService tokens;

    @Test
    void readsAndWritesAnswer503Promptly() {
        long userId = client.post().uri("/api/auth/register").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("name", "Mongo Less", "email", "mongo-less@example.com", "password", "password123"))
                .exchange().expectStatus().isCreated()
                .expectBody(tools.jackson.databind.JsonNode.class).returnResult().getResponseBody().path("id").asLong();
        String bearer = "Bearer " + tokens.issue(userId, List.of("USER"), 1).token();
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
