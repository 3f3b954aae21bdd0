package io.fluxgate.changes;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;

import io.fluxgate.support.IntegrationTest;
import io.fluxgate.support.WsClient;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.http.HttpHeaders;
import org.springframework.http.MediaType;
import org.springframework.security.oauth2.jose.jws.MacAlgorithm;
import org.springframework.security.oauth2.jwt.JwsHeader;
import org.springframework.security.oauth2.jwt.JwtClaimsSet;
import org.springframework.security.oauth2.jwt.JwtEncoder;
import org.springframework.security.oauth2.jwt.JwtEncoderParameters;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** Subscription options and token refresh on the WebSocket, end to end against real writes. */
class ChangeStreamOptionsTest extends IntegrationTest {

    @LocalServerPort
    int port;

    @Autowired
    JwtEncoder encoder;

    @Test
    void aRowFilterNarrowsTheChannelOnInsertAndUpdateByTheNewRowAndOnDeleteByTheOldOne() {
        Account watcher = newUser("Watcher");
        Account wanted = newUser("Wanted");
        Account other = newUser("Other");
        try (WsClient ws = WsClient.connect(port, watcher.token())) {
            ws.send("{\"type\":\"subscribe\",\"channel\":\"post_changes\",\"filter\":{\"authorId\":{\"eq\":"
                    + wanted.id() + "},\"title\":{\"neq\":\"hidden\"}},\"columns\":[\"title\"]}");
            assertThat(ws.next().path("type").asString()).isEqualTo("subscribed");
            createPost(other, "not wanted");
            createPost(wanted, "hidden");
            long postId = createPost(wanted, "shown");
            JsonNode inserted = ws.next();
            assertThat(inserted.path("operation").asString()).isEqualTo("INSERT");
            assertThat(inserted.path("data").path("title").asString()).isEqualTo("shown");
            assertThat(inserted.path("data").propertyNames()).as("only the chosen columns and the key")
                    .containsExactlyInAnyOrder("id", "title");

            client.patch().uri("/api/posts/{id}", postId).header(HttpHeaders.AUTHORIZATION, wanted.bearer())
                    .contentType(MediaType.APPLICATION_JSON).bodyValue(Map.of("title", "hidden")).exchange()
                    .expectStatus().isOk();
            client.delete().uri("/api/posts/{id}", postId).header(HttpHeaders.AUTHORIZATION, wanted.bearer())
                    .exchange().expectStatus().isNoContent();
            // The update's new row fails the filter; the delete's old row is the same row, so it fails too.
            long later = createPost(wanted, "shown again");
            client.delete().uri("/api/posts/{id}", later).header(HttpHeaders.AUTHORIZATION, wanted.bearer())
                    .exchange().expectStatus().isNoContent();
            List<JsonNode> frames = ws.next(2);
            assertThat(frames).extracting(frame -> frame.path("operation").asString()).containsExactly("INSERT", "DELETE");
            assertThat(frames).extracting(frame -> frame.path("data").path("id").asLong()).containsOnly(later);
            ws.assertQuietFor(Duration.ofMillis(300));
        }
    }

    @Test
    void resumingTwoSubscriptionsOfOneChannelSendsEachItsOwnMissedEventsOnce() {
        Account watcher = newUser("Two Resumes");
        Account other = newUser("Not Watched");
        String mine = postsSubscription("mine", "{\"authorId\":{\"eq\":" + watcher.id() + "}}");
        String tagged = postsSubscription("tagged", "{\"title\":{\"like\":\"%tagged%\"}}");
        String cursor = startingCursor(watcher, mine);
        long both = createPost(watcher, "tagged and mine"); // both filters, and related to the watcher
        long mineOnly = createPost(watcher, "plain");
        long taggedOnly = createPost(other, "tagged elsewhere");
        awaitInsertPublished("posts", taggedOnly);

        try (WsClient ws = WsClient.connect(port, watcher.token())) {
            List<JsonNode> first = resume(ws, mine, cursor, 2);
            assertThat(first).extracting(frame -> frame.path("data").path("id").asLong())
                    .containsExactly(both, mineOnly);
            // Each subscription is owed its own events: the post both match comes again, naming the
            // subscription now resumed, so a client that routes frames by subscription misses nothing.
            List<JsonNode> second = resume(ws, tagged, cursor, 2);
            assertThat(second).extracting(frame -> frame.path("data").path("id").asLong())
                    .containsExactly(both, taggedOnly);
            assertThat(second).allSatisfy(frame -> assertThat(frame.path("subscriptions"))
                    .extracting(JsonNode::asString).containsExactly("tagged"));
            ws.assertQuietFor(Duration.ofMillis(500));
        }
    }

    @Test
    void aLaterCursorOfOneSubscriptionNeverHidesWhatAnotherSubscriptionMissed() {
        Account watcher = newUser("Older Cursor");
        Account author = newUser("Newsy");
        String theirs = postsSubscription("theirs", "{\"authorId\":{\"eq\":" + author.id() + "}}");
        String news = postsSubscription("news", "{\"title\":{\"like\":\"%news%\"}}");
        String theirsCursor = startingCursor(watcher, theirs);
        long missed = createPost(author, "big news");
        awaitInsertPublished("posts", missed);
        // Subscribed after the post: this subscription's cursor is past it, the other one's is not.
        String newsCursor = startingCursor(watcher, news);
        try (WsClient ws = WsClient.connect(port, watcher.token())) {
            resume(ws, news, newsCursor, 0);
            JsonNode change = resume(ws, theirs, theirsCursor, 1).get(0);
            assertThat(change.path("data").path("id").asLong()).isEqualTo(missed);
            assertThat(change.path("subscriptions")).extracting(JsonNode::asString).containsExactly("theirs");
            ws.assertQuietFor(Duration.ofMillis(500));
        }
    }

    @Test
    void aSecondResumeWantingOtherColumnsStillGetsThem() {
        Account watcher = newUser("Column Resumes");
        Account author = newUser("Columnist");
        String byAuthor = "{\"authorId\":{\"eq\":" + author.id() + "}}";
        String titles = postsSubscription("titles", byAuthor) + ",\"columns\":[\"title\"]";
        String bodies = postsSubscription("bodies", byAuthor) + ",\"columns\":[\"body\"]";
        String cursor = startingCursor(watcher, titles);
        long post = createPost(author, "two views");
        awaitInsertPublished("posts", post);
        try (WsClient ws = WsClient.connect(port, watcher.token())) {
            JsonNode first = resume(ws, titles, cursor, 1).get(0);
            assertThat(first.path("data").propertyNames()).containsExactlyInAnyOrder("id", "title");
            JsonNode second = resume(ws, bodies, cursor, 1).get(0);
            assertThat(second.path("data").path("id").asLong()).isEqualTo(post);
            assertThat(second.path("data").propertyNames()).containsExactlyInAnyOrder("id", "body");
            ws.assertQuietFor(Duration.ofMillis(500));
        }
    }

    @Test
    void anEventMatchingTwoSubscriptionsArrivesOnceNamingBoth() {
        Account watcher = newUser("Two Views");
        Account author = newUser("Prolific");
        try (WsClient ws = WsClient.connect(port, watcher.token())) {
            ws.send("{\"type\":\"subscribe\",\"channel\":\"post_changes\",\"id\":\"mine\",\"filter\":{\"authorId\":{\"in\":["
                    + author.id() + "]}}}");
            assertThat(ws.next().path("id").asString()).isEqualTo("mine");
            ws.send("{\"type\":\"subscribe\",\"channel\":\"post_changes\",\"id\":\"urgent\","
                    + "\"filter\":{\"or\":[{\"title\":{\"like\":\"URGENT%\"}},{\"body\":{\"like\":\"%urgent%\"}}]}}");
            assertThat(ws.next().path("id").asString()).isEqualTo("urgent");
            createPost(author, "URGENT: read me");
            createPost(author, "calm");
            JsonNode both = ws.next();
            assertThat(both.path("data").path("title").asString()).isEqualTo("URGENT: read me");
            assertThat(both.path("subscriptions").valueStream().map(JsonNode::asString))
                    .containsExactlyInAnyOrder("mine", "urgent");
            JsonNode one = ws.next();
            assertThat(one.path("subscriptions").valueStream().map(JsonNode::asString)).containsExactly("mine");
        }
    }

    @Test
    void aFilterThatCannotBeMetAnswersAnErrorAndSubscribesNothing() {
        Account user = newUser("Typo");
        try (WsClient ws = WsClient.connect(port, user.token())) {
            ws.send("{\"type\":\"subscribe\",\"channel\":\"user_changes\",\"filter\":{\"password\":{\"like\":\"$2a%\"}}}");
            JsonNode error = ws.next();
            assertThat(error.path("error").asString()).isEqualTo("Invalid filter");
            assertThat(error.path("detail").asString()).contains("Unknown field 'password'");
            ws.send("{\"type\":\"ping\"}");
            assertThat(ws.next().path("type").asString()).isEqualTo("pong");
        }
    }

    @Test
    void aRefreshedTokenKeepsTheSessionPastTheOldOnesExpiryAndAnotherUsersIsRefused() {
        Account user = newUser("Refresher");
        Account stranger = newUser("Stranger");
        Instant expiry = Instant.now().plusSeconds(3);
        try (WsClient ws = WsClient.connect(port, token(user.id(), expiry))) {
            ws.subscribe("post_changes");
            ws.send("{\"type\":\"auth\",\"token\":\"" + stranger.token() + "\"}");
            assertThat(ws.next().path("error").asString()).isEqualTo("Invalid token");
            ws.send("{\"type\":\"auth\",\"token\":\"" + user.token() + "\"}");
            JsonNode ok = ws.next();
            assertThat(ok.path("type").asString()).isEqualTo("auth_ok");
            assertThat(Instant.parse(ok.path("expiresAt").asString())).isAfter(expiry);
            // Past the first token's expiry and a revocation check or two, the session still delivers.
            await().atMost(Duration.ofSeconds(20)).until(() -> Instant.now().isAfter(expiry.plusSeconds(2)));
            long postId = createPost(user, "still here");
            assertThat(ws.next().path("data").path("id").asLong()).isEqualTo(postId);
        }
    }

    private String token(long userId, Instant expiresAt) {
        JwtClaimsSet claims = JwtClaimsSet.builder().issuer("fluxgate").subject(Long.toString(userId))
                .issuedAt(Instant.now()).expiresAt(expiresAt).claim("roles", List.of("USER")).claim("ver", 1L).build();
        return encoder.encode(JwtEncoderParameters.from(JwsHeader.with(MacAlgorithm.HS256).build(), claims))
                .getTokenValue();
    }

    /** A subscribe message to post_changes with an id and a filter, left open for more fields. */
    private static String postsSubscription(String id, String filter) {
        return "{\"type\":\"subscribe\",\"channel\":\"post_changes\",\"id\":\"" + id + "\",\"filter\":" + filter;
    }

    /** Subscribes with {@code resumeFrom}: the {@code changes} frames after the answer, which must be {@code subscribed}. */
    private static List<JsonNode> resume(WsClient ws, String subscription, String cursor, int changes) {
        ws.send(subscription + ",\"resumeFrom\":\"" + cursor + "\"}");
        List<JsonNode> frames = ws.next(1 + changes);
        assertThat(frames.get(0).path("type").asString()).isEqualTo("subscribed");
        return frames.subList(1, frames.size());
    }

    /** Subscribes on a connection of its own, then leaves: the cursor the subscription started at. */
    private String startingCursor(Account who, String subscription) {
        try (WsClient ws = WsClient.connect(port, who.token())) {
            ws.send(subscription + "}");
            JsonNode ack = ws.next();
            assertThat(ack.path("type").asString()).isEqualTo("subscribed");
            return ack.path("cursor").asString();
        }
    }
}
