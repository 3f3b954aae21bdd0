package io.fluxgate.changes;

import java.util.List;
import java.util.Map;

import io.fluxgate.support.IntegrationTest;
import io.fluxgate.support.WsClient;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.http.HttpHeaders;
import org.springframework.http.MediaType;

import static org.assertj.core.api.Assertions.assertThat;

/** The WebSocket contract, end to end: real writes through the API, a real client over the network. */
class ChangeStreamTest extends IntegrationTest {

    @LocalServerPort
    int port;

    @Test
    void rowChangesReachASubscribedClientWithTheContractsFieldsAndNoPassword() {
        Account admin = admin();
        try (WsClient ws = WsClient.connect(port, admin.token())) {
            ws.subscribe("user_changes").subscribe("post_changes");
            Account user = newUser("Watched");
            JsonNode inserted = nextFor(ws, "users", user.id());
            assertThat(inserted.path("type").asString()).isEqualTo("database_change");
            assertThat(inserted.path("channel").asString()).isEqualTo("user_changes");
            assertThat(inserted.path("operation").asString()).isEqualTo("INSERT");
            assertThat(inserted.path("table").asString()).isEqualTo("users");
            assertThat(inserted.path("cursor").asString()).isNotBlank();
            assertThat(inserted.path("committedAt").asString()).endsWith("Z");
            JsonNode data = inserted.path("data");
            assertThat(data.path("email").asString()).isEqualTo(user.email());
            assertThat(data.has("lastActive")).isTrue();
            assertThat(data.has("createdAt")).isTrue();
            assertThat(data.has("password")).isFalse();
            assertThat(inserted.toString()).doesNotContain("password").doesNotContain("$2a$");

            // Login and every later request only move last_active: activity is not logged as a change.
            client.patch().uri("/api/users/{id}", user.id()).header(HttpHeaders.AUTHORIZATION, user.bearer())
                    .contentType(MediaType.APPLICATION_JSON).bodyValue(Map.of("bio", "Changed"))
                    .exchange().expectStatus().isOk();
            JsonNode updated = nextFor(ws, "users", user.id());
            assertThat(updated.path("operation").asString()).isEqualTo("UPDATE");
            assertThat(updated.path("data").path("bio").asString()).isEqualTo("Changed");

            long postId = createPost(user, "Hello", "World");
            JsonNode post = nextFor(ws, "posts", postId);
            assertThat(post.path("channel").asString()).isEqualTo("post_changes");
            assertThat(post.path("data").path("authorId").asLong()).isEqualTo(user.id());

            client.delete().uri("/api/users/{id}", user.id()).header(HttpHeaders.AUTHORIZATION, user.bearer())
                    .exchange().expectStatus().isNoContent();
            // The cascade deletes the post first, then the user; both are seen.
            List<JsonNode> deletes = List.of(ws.next(), ws.next());
            assertThat(deletes).extracting(frame -> frame.path("operation").asString()).containsOnly("DELETE");
            assertThat(deletes).extracting(frame -> frame.path("table").asString())
                    .containsExactlyInAnyOrder("posts", "users");
        }
    }

    @Test
    void eventsRelatedToTheUserArriveWithoutSubscribing() {
        Account author = newUser("Author");
        try (WsClient ws = WsClient.connect(port, author.token())) {
            long postId = createPost(author, "Mine", "All mine");
            JsonNode event = ws.next();
            assertThat(event.path("table").asString()).isEqualTo("posts");
            assertThat(event.path("data").path("id").asLong()).isEqualTo(postId);
            newUser("Stranger");
            ws.assertQuietFor(java.time.Duration.ofMillis(500));
        }
    }

    @Test
    void nonAdminsSeeOnlyTheirOwnUserEventsAdminsSeeAll() {
        Account alice = newUser("Alice");
        Account bob = newUser("Bob");
        Account admin = admin();
        try (WsClient aliceWs = WsClient.connect(port, alice.token());
                WsClient adminWs = WsClient.connect(port, admin.token())) {
            aliceWs.subscribe("user_changes");
            adminWs.subscribe("user_changes");
            patchBio(bob, "bob's");
            patchBio(alice, "alice's");
            JsonNode seenByAlice = aliceWs.next();
            assertThat(seenByAlice.path("data").path("id").asLong()).isEqualTo(alice.id());
            aliceWs.assertQuietFor(java.time.Duration.ofMillis(500));
            List<JsonNode> seenByAdmin = adminWs.next(2);
            assertThat(seenByAdmin).extracting(frame -> frame.path("data").path("id").asLong())
                    .containsExactly(bob.id(), alice.id());
        }
    }

    @Test
    void theUpgradeNeedsAValidToken() {
        assertThat(WsClient.handshakeStatus(port, null)).isEqualTo(401);
        assertThat(WsClient.handshakeStatus(port, "not.a.token")).isEqualTo(401);
        Account user = newUser("Browser");
        try (WsClient ws = WsClient.connectWithQueryToken(port, user.token())) {
            ws.send("{\"type\":\"ping\"}");
            assertThat(ws.next().path("type").asString()).isEqualTo("pong");
        }
    }

    @Test
    void aPlainRequestForTheStreamIsRefusedWithoutEchoingItsHeaders() {
        Account user = newUser("Prober");
        client.get().uri("/ws/changes").header("Authorization", "Bearer " + user.token()).exchange()
                .expectStatus().isBadRequest()
                .expectBody(String.class).value(body -> assertThat(body)
                        .contains("Only WebSocket upgrades are served here")
                        .doesNotContain(user.token()).doesNotContain("Authorization"));
        // An upgrade whose Connection header a proxy dropped: the other reason the handshake gives.
        client.get().uri("/ws/changes").header("Authorization", "Bearer " + user.token())
                .header("Upgrade", "websocket").header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
                .header("Sec-WebSocket-Version", "13").exchange()
                .expectStatus().isBadRequest()
                .expectBody(String.class).value(body -> assertThat(body)
                        .contains("Only WebSocket upgrades are served here").doesNotContain(user.token()));
    }

    @Test
    void badMessagesGetErrorFramesAndTheConnectionKeepsWorking() {
        Account user = newUser("Clumsy");
        try (WsClient ws = WsClient.connect(port, user.token())) {
            ws.send("{not json");
            assertThat(ws.next().path("error").asString()).isEqualTo("Invalid message format");
            ws.send("{\"type\":\"dance\"}");
            assertThat(ws.next().path("error").asString()).isEqualTo("Invalid message format");
            ws.send("{\"type\":\"subscribe\",\"channel\":\"secrets\"}");
            assertThat(ws.next().path("error").asString()).isEqualTo("Unknown channel");
            ws.send("{\"type\":\"subscribe\",\"channel\":\"post_changes\",\"resumeFrom\":\"garbage\"}");
            assertThat(ws.next().path("error").asString()).isEqualTo("Invalid cursor");
            ws.send("{\"type\":\"ping\"}");
            assertThat(ws.next().path("type").asString()).isEqualTo("pong");
            ws.subscribe("post_changes");
            ws.send("{\"type\":\"unsubscribe\",\"channel\":\"post_changes\"}");
            assertThat(ws.next().path("type").asString()).isEqualTo("unsubscribed");
        }
    }

    @Test
    void aTwentyKilobyteRowArrivesWhole() {
        Account author = newUser("Verbose");
        try (WsClient ws = WsClient.connect(port, author.token())) {
            String body = "x".repeat(20_000);
            createPost(author, "Long", body);
            assertThat(ws.next().path("data").path("body").asString()).isEqualTo(body);
        }
    }

    /** The next frame, which must be about the given row. */
    private static JsonNode nextFor(WsClient ws, String table, long id) {
        JsonNode frame = ws.next();
        assertThat(frame.path("table").asString()).isEqualTo(table);
        assertThat(frame.path("data").path("id").asLong()).isEqualTo(id);
        return frame;
    }

    private void patchBio(Account as, String bio) {
        client.patch().uri("/api/users/{id}", as.id()).header(HttpHeaders.AUTHORIZATION, as.bearer())
                .contentType(MediaType.APPLICATION_JSON).bodyValue(Map.of("bio", bio))
                .exchange().expectStatus().isOk();
    }

    private long createPost(Account as, String title, String body) {
        return client.post().uri("/api/posts").header(HttpHeaders.AUTHORIZATION, as.bearer())
                .contentType(MediaType.APPLICATION_JSON).bodyValue(Map.of("title", title, "body", body))
                .exchange().expectStatus().isCreated()
                .expectBody(JsonNode.class).returnResult().getResponseBody().path("id").asLong();
    }
}
