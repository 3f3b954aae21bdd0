package io.fluxgate.web;

import java.util.Map;

import io.fluxgate.support.IntegrationTest;
import org.junit.jupiter.api.Test;

import org.springframework.http.HttpHeaders;
import org.springframework.http.MediaType;

/**
 * Regression test for a stalled keep-alive connection: answers produced off the event loop (bcrypt,
 * R2DBC) followed by answers produced at once (401, 400) used to leave the next request unread.
 * See {@link EventLoopWrites}. Without the filter this stalls within a few hundred requests.
 */
class KeepAliveTest extends IntegrationTest {

    @Test
    void mixedFastAndSlowAnswersNeverStallAConnection() {
        for (int i = 0; i < 150; i++) {
            client.get().uri("/api/users").exchange().expectStatus().isUnauthorized();
            client.get().uri("/api/users").header(HttpHeaders.AUTHORIZATION, "Bearer not.a.token").exchange()
                    .expectStatus().isUnauthorized();
            client.post().uri("/api/auth/register").contentType(MediaType.APPLICATION_JSON)
                    .bodyValue(Map.of("name", "A")).exchange().expectStatus().isBadRequest();
            client.post().uri("/api/auth/login").contentType(MediaType.APPLICATION_JSON)
                    // Each a different email: the per-email login limit is not what this test is about.
                    .bodyValue(Map.of("email", "nobody-" + i + "@example.com", "password", "wrong-password"))
                    .exchange().expectStatus().isUnauthorized();
        }
    }
}
