package io.fluxgate.changes;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import io.fluxgate.changes.hub.Position;
import io.fluxgate.support.IntegrationTest;
import org.junit.jupiter.api.Test;
import reactor.core.Disposable;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.core.ParameterizedTypeReference;
import org.springframework.http.HttpHeaders;
import org.springframework.http.MediaType;
import org.springframework.http.codec.ServerSentEvent;
import org.springframework.web.reactive.function.client.WebClient;

import static org.assertj.core.api.Assertions.assertThat;

/** The change stream over Server-Sent Events: a real HTTP client, real writes, a real reconnect. */
class ChangeEventStreamTest extends IntegrationTest {

    private static final JsonMapper JSON = JsonMapper.builder().build();
    private static final Duration WAIT = Duration.ofSeconds(20);

    @LocalServerPort
    int port;

    /** An open stream, collecting its events (keep-alive comments included, as null names). */
    private final class Stream implements AutoCloseable {

        final BlockingQueue<ServerSentEvent<String>> events = new LinkedBlockingQueue<>();
        final Disposable subscription;

        Stream(Account as, String query, String lastEventId) {
            // The query is already encoded: a URI is sent as it is.
            subscription = WebClient.create().get()
                    .uri(java.net.URI.create("http://localhost:" + port + "/api/changes/stream?" + query))
                    .header(HttpHeaders.AUTHORIZATION, as.bearer())
                    .headers(headers -> {
                        if (lastEventId != null) {
                            headers.set("Last-Event-ID", lastEventId);
                        }
                    })
                    .accept(MediaType.TEXT_EVENT_STREAM)
                    .retrieve()
                    .bodyToFlux(new ParameterizedTypeReference<ServerSentEvent<String>>() { })
                    .subscribe(events::add);
        }

        ServerSentEvent<String> next() throws InterruptedException {
            ServerSentEvent<String> event;
            do {
                event = events.poll(WAIT.toMillis(), TimeUnit.MILLISECONDS);
                assertThat(event).as("an event within " + WAIT).isNotNull();
            } while (event.event() == null);
            return event;
        }

        JsonNode nextChange() throws InterruptedException {
            ServerSentEvent<String> event = next();
            assertThat(event.event()).isEqualTo("database_change");
            JsonNode data = JSON.readTree(event.data());
            assertThat(event.id()).isEqualTo(data.path("cursor").asString());
            return data;
        }

        @Override
        public void close() {
            subscription.dispose();
        }
    }

    @Test
    void changesArriveAsEventsAndAReconnectWithLastEventIdGetsExactlyWhatItMissed() throws Exception {
        Account reader = newUser("Reader");
        Account author = newUser("Writer");
        String filter = java.net.URLEncoder.encode("{\"authorId\":{\"eq\":" + author.id() + "}}",
                java.nio.charset.StandardCharsets.UTF_8);
        String query = "channel=post_changes&columns=title&filter=" + filter;
        String cursor;
        try (Stream stream = new Stream(reader, query, null)) {
            assertThat(stream.next().event()).isEqualTo("subscribed");
            createPost(newUser("Someone"), "filtered out");
            long first = createPost(author, "first");
            JsonNode change = stream.nextChange();
            assertThat(change.path("data").path("id").asLong()).isEqualTo(first);
            assertThat(change.path("data").propertyNames()).containsExactlyInAnyOrder("id", "title");
            cursor = change.path("cursor").asString();
        }
        long missed1 = createPost(author, "missed 1");
        long missed2 = createPost(author, "missed 2");
        try (Stream stream = new Stream(reader, query, cursor)) {
            assertThat(stream.next().event()).isEqualTo("subscribed");
            assertThat(stream.nextChange().path("data").path("id").asLong()).isEqualTo(missed1);
            assertThat(stream.nextChange().path("data").path("id").asLong()).isEqualTo(missed2);
            long live = createPost(author, "live");
            assertThat(stream.nextChange().path("data").path("id").asLong()).isEqualTo(live);
        }
    }

    @Test
    void aReconnectOnSeveralChannelsResumesThemInCommitOrderSoIdsOnlyMoveForward() throws Exception {
        Account me = newUser("Two Channels");
        String query = "channel=post_changes&channel=user_changes";
        String cursor;
        try (Stream stream = new Stream(me, query, null)) {
            assertThat(stream.next().event()).isEqualTo("subscribed");
            assertThat(stream.next().event()).isEqualTo("subscribed");
            createPost(me, "seen");
            cursor = stream.nextChange().path("cursor").asString();
        }
        long first = createPost(me, "missed post 1");
        client.patch().uri("/api/users/{id}", me.id()).header(HttpHeaders.AUTHORIZATION, me.bearer())
                .contentType(MediaType.APPLICATION_JSON).bodyValue(Map.of("bio", "missed bio")).exchange()
                .expectStatus().isOk();
        long second = createPost(me, "missed post 2");
        try (Stream stream = new Stream(me, query, cursor)) {
            assertThat(stream.next().event()).isEqualTo("subscribed");
            assertThat(stream.next().event()).isEqualTo("subscribed");
            JsonNode a = stream.nextChange();
            JsonNode b = stream.nextChange();
            JsonNode c = stream.nextChange();
            assertThat(a.path("data").path("id").asLong()).isEqualTo(first);
            assertThat(b.path("table").asString()).isEqualTo("users");
            assertThat(b.path("data").path("bio").asString()).isEqualTo("missed bio");
            assertThat(c.path("data").path("id").asLong()).isEqualTo(second);
            assertThat(Position.fromCursor(b.path("cursor").asString()))
                    .isGreaterThan(Position.fromCursor(a.path("cursor").asString()));
            assertThat(Position.fromCursor(c.path("cursor").asString()))
                    .isGreaterThan(Position.fromCursor(b.path("cursor").asString()));
            long live = createPost(me, "live");
            assertThat(stream.nextChange().path("data").path("id").asLong()).isEqualTo(live);
        }
    }

    @Test
    void aSnapshotComesFirstThenTheChangesAfterIt() throws Exception {
        Account reader = newUser("Snapshot Over SSE");
        Account author = newUser("Snapshotted Author");
        long old1 = createPost(author, "old 1");
        long old2 = createPost(author, "old 2");
        String filter = java.net.URLEncoder.encode("{\"authorId\":{\"eq\":" + author.id() + "}}",
                java.nio.charset.StandardCharsets.UTF_8);
        try (Stream stream = new Stream(reader, "channel=post_changes&snapshot=true&filter=" + filter, null)) {
            assertThat(stream.next().event()).isEqualTo("subscribed");
            ServerSentEvent<String> page = stream.next();
            assertThat(page.event()).isEqualTo("snapshot");
            assertThat(JSON.readTree(page.data()).path("data").valueStream().map(row -> row.path("id").asLong()))
                    .containsExactly(old1, old2);
            ServerSentEvent<String> end = stream.next();
            assertThat(end.event()).isEqualTo("snapshot_end");
            assertThat(end.id()).as("not an event id: changes read ahead of may still come").isNull();
            long fresh = createPost(author, "fresh");
            assertThat(stream.nextChange().path("data").path("id").asLong()).isEqualTo(fresh);
        }
    }

    @Test
    void badQueriesAnswerProblemsBeforeAnyStreamOpens() {
        Account user = newUser("Sloppy");
        client.get().uri("/api/changes/stream").header(HttpHeaders.AUTHORIZATION, user.bearer()).exchange()
                .expectStatus().isBadRequest()
                .expectHeader().contentType(MediaType.APPLICATION_PROBLEM_JSON);
        client.get().uri("/api/changes/stream?channel=secrets").header(HttpHeaders.AUTHORIZATION, user.bearer())
                .exchange().expectStatus().isBadRequest();
        client.get().uri(builder -> builder.path("/api/changes/stream").queryParam("channel", "post_changes")
                        .queryParam("filter", "{f}").build("{\"nope\":{\"eq\":1}}"))
                .header(HttpHeaders.AUTHORIZATION, user.bearer()).exchange()
                .expectStatus().isBadRequest()
                .expectBody().jsonPath("$.errors[0].message").isEqualTo("Unknown field 'nope'");
        client.get().uri("/api/changes/stream?channel=post_changes").header(HttpHeaders.AUTHORIZATION, user.bearer())
                .header("Last-Event-ID", "not-a-cursor").exchange().expectStatus().isBadRequest();
        client.get().uri("/api/changes/stream?channel=post_changes").exchange().expectStatus().isUnauthorized();
    }
}
