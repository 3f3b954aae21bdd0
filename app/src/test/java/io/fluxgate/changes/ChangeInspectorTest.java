package io.fluxgate.changes;

import java.time.Instant;

import io.fluxgate.changes.admin.ChangeInspector;
import io.fluxgate.changes.capture.ChangeLogRetention;
import io.fluxgate.changes.hub.Position;
import io.fluxgate.support.IntegrationTest;
import io.fluxgate.support.WsClient;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.web.server.LocalServerPort;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The admin inspector over real sessions and real logged changes: the sessions view, and one
 * explanation per reason a user did or did not get a change.
 */
class ChangeInspectorTest extends IntegrationTest {

    @LocalServerPort
    int port;

    @Test
    void theSessionsViewShowsEachOpenSessionWithItsSubscriptions() {
        Account watcher = newUser("Viewed");
        try (WsClient ws = WsClient.connect(port, watcher.token())) {
            ws.send("{\"type\":\"subscribe\",\"channel\":\"post_changes\",\"id\":\"mine\","
                    + "\"filter\":{\"authorId\":{\"eq\":" + watcher.id() + "}},\"columns\":[\"title\"]}");
            assertThat(ws.next().path("type").asString()).isEqualTo("subscribed");
            createPost(watcher, "seen");
            Position seen = Position.fromCursor(ws.next().path("cursor").asString());

            JsonNode sessions = sessions(admin(), "?userId=" + watcher.id());
            assertThat(sessions).hasSize(1);
            JsonNode session = sessions.get(0);
            assertThat(session.path("userId").asLong()).isEqualTo(watcher.id());
            assertThat(session.path("transport").asString()).isEqualTo("websocket");
            assertThat(Position.fromCursor(session.path("lastCursor").asString())).as("past the post it was sent")
                    .isGreaterThanOrEqualTo(seen);
            assertThat(session.path("bufferedEvents").asInt()).isZero();
            assertThat(session.path("replaying").asBoolean()).isFalse();
            assertThat(Instant.parse(session.path("connectedAt").asString())).isBefore(Instant.now());
            JsonNode subscription = session.path("subscriptions").get(0);
            assertThat(subscription.path("id").asString()).isEqualTo("mine");
            assertThat(subscription.path("channel").asString()).isEqualTo("post_changes");
            assertThat(subscription.path("filter").asString()).isEqualTo("{\"authorId\":{\"eq\":" + watcher.id() + "}}");
            assertThat(subscription.path("columns")).extracting(JsonNode::asString).containsExactly("id", "title");
        }
        assertThat(sessions(admin(), "?userId=" + watcher.id())).as("a closed session leaves the view").isEmpty();
    }

    @Test
    void aMatchingChangeIsExplainedAsDeliveredAndAFilteredOneNamesTheConditionThatExcludedIt() {
        Account watcher = newUser("Explained");
        Account wanted = newUser("Wanted Author");
        Account other = newUser("Other Author");
        try (WsClient ws = WsClient.connect(port, watcher.token())) {
            ws.send("{\"type\":\"subscribe\",\"channel\":\"post_changes\",\"id\":\"theirs\","
                    + "\"filter\":{\"authorId\":{\"eq\":" + wanted.id() + "},\"title\":{\"like\":\"%news%\"}}}");
            assertThat(ws.next().path("type").asString()).isEqualTo("subscribed");
            createPost(wanted, "good news");
            String delivered = ws.next().path("cursor").asString();
            long noStory = createPost(wanted, "no story");
            long moreNews = createPost(other, "more news");
            // Both misses are logged before this one arrives: cursors are in commit order.
            createPost(wanted, "news again");
            assertThat(ws.next().path("data").path("title").asString()).isEqualTo("news again");

            JsonNode yes = explain(delivered, watcher);
            assertThat(yes.path("outcome").asString()).isEqualTo("delivered");
            assertThat(yes.path("change").path("table").asString()).isEqualTo("posts");
            assertThat(yes.path("change").path("operation").asString()).isEqualTo("INSERT");
            assertThat(yes.path("subscriptions").get(0).path("id").asString()).isEqualTo("theirs");

            JsonNode wrongTitle = explain(cursorOfPost(noStory), watcher);
            assertThat(wrongTitle.path("outcome").asString()).isEqualTo("filtered_out");
            assertThat(wrongTitle.path("subscriptions").get(0).path("condition").asString())
                    .isEqualTo("{\"title\":{\"like\":\"%news%\"}}");
            JsonNode wrongAuthor = explain(cursorOfPost(moreNews), watcher);
            assertThat(wrongAuthor.path("outcome").asString()).isEqualTo("filtered_out");
            assertThat(wrongAuthor.path("subscriptions").get(0).path("condition").asString())
                    .isEqualTo("{\"authorId\":{\"eq\":" + wanted.id() + "}}");
        }
    }

    @Test
    void anotherUsersChangeOnARestrictedChannelIsNotAllowedAndAnUnsubscribedChannelIsNamed() {
        Account watcher = newUser("Restricted");
        try (WsClient ws = WsClient.connect(port, watcher.token())) {
            ws.subscribe("user_changes");
            Account stranger = newUser("Stranger");
            String strangerSignUp = cursorOfUser(stranger);

            JsonNode notAllowed = explain(strangerSignUp, watcher);
            assertThat(notAllowed.path("outcome").asString()).isEqualTo("not_allowed");
            assertThat(notAllowed.path("reason").asString()).contains("only admins");

            JsonNode notSubscribed = explain(cursorOfPost(createPost(stranger, "elsewhere")), watcher);
            assertThat(notSubscribed.path("outcome").asString()).isEqualTo("not_subscribed");
            assertThat(notSubscribed.path("reason").asString()).contains("post_changes");
            assertThat(notSubscribed.path("subscriptions").get(0).path("channel").asString()).isEqualTo("user_changes");
        }
    }

    @Test
    void aUserWithNoOpenSessionIsNotSubscribed() {
        Account absent = newUser("Absent");
        JsonNode answer = explain(cursorOfUser(absent), absent);
        assertThat(answer.path("outcome").asString()).isEqualTo("not_subscribed");
        assertThat(answer.path("reason").asString()).contains("no open change-stream session");
    }

    @Test
    void aPrunedChangeIsPastRetentionAndAnUnknownOneIsNotFound(@Autowired ChangeLogRetention retention) {
        Account author = newUser("Pruned Author");
        String cursor = cursorOfPost(createPost(author, "soon gone"));
        retention.prune(Instant.now().plusSeconds(60), 0).block();

        JsonNode answer = explain(cursor, author);
        assertThat(answer.path("outcome").asString()).isEqualTo("past_retention");
        assertThat(answer.path("change").isNull()).isTrue();

        String never = new Position(Long.MAX_VALUE / 2, 1).toCursor();
        get(admin(), "/api/admin/changes/explain?cursor={c}&userId={u}", never, author.id()).exchange()
                .expectStatus().isNotFound();
    }

    @Test
    void theInspectorIsForAdminsAndRefusesBadInput() {
        Account user = newUser("Curious");
        get(user, "/api/admin/changes/sessions").exchange().expectStatus().isForbidden();
        get(user, "/api/admin/changes/explain?cursor=x&userId=1").exchange().expectStatus().isForbidden();
        Account admin = admin();
        get(admin, "/api/admin/changes/explain?cursor=not-a-cursor&userId=1").exchange()
                .expectStatus().isBadRequest()
                .expectBody().jsonPath("$.errors[0].field").isEqualTo("cursor");
        get(admin, "/api/admin/changes/explain?cursor={c}", new Position(1, 1).toCursor()).exchange()
                .expectStatus().isBadRequest()
                .expectBody().jsonPath("$.errors[0].field").isEqualTo("userId");
        get(admin, "/api/admin/changes/sessions?limit=100000").exchange().expectStatus().isBadRequest();
    }

    private JsonNode sessions(Account admin, String query) {
        return get(admin, "/api/admin/changes/sessions" + query).exchange()
                .expectStatus().isOk().expectBody(JsonNode.class).returnResult().getResponseBody();
    }

    @Test
    void aHugeFilterIsCutInTheViewAndTheLimitAndTotalCountHold() {
        Account watcher = newUser("Wordy");
        StringBuilder filter = new StringBuilder("{\"or\":[");
        for (int i = 0; i < 40; i++) {
            filter.append(i == 0 ? "" : ",").append("{\"title\":{\"eq\":\"").append("t".repeat(900)).append(i).append("\"}}");
        }
        filter.append("]}");
        try (WsClient first = WsClient.connect(port, watcher.token())) {
            first.send("{\"type\":\"subscribe\",\"channel\":\"post_changes\",\"filter\":" + filter + "}");
            assertThat(first.next().path("type").asString()).isEqualTo("subscribed");
            // Opened once the first is subscribed to, so the first is the older one.
            try (WsClient second = WsClient.connect(port, watcher.token())) {
                second.subscribe("post_changes");
                assertOldestShownCut(watcher);
            }
        }
    }

    private void assertOldestShownCut(Account watcher) {
        JsonNode one = get(admin(), "/api/admin/changes/sessions?userId={u}&limit=1", watcher.id()).exchange()
                .expectStatus().isOk()
                .expectHeader().valueEquals("X-Total-Count", "2")
                .expectBody(JsonNode.class).returnResult().getResponseBody();
        assertThat(one).hasSize(1);
        String shown = one.get(0).path("subscriptions").get(0).path("filter").asString();
        assertThat(shown).hasSize(ChangeInspector.MAX_FILTER_TEXT).endsWith("…");
    }

    private JsonNode explain(String cursor, Account user) {
        return get(admin(), "/api/admin/changes/explain?cursor={c}&userId={u}", cursor, user.id()).exchange()
                .expectStatus().isOk().expectBody(JsonNode.class).returnResult().getResponseBody();
    }

    private String cursorOfPost(long postId) {
        return cursorOfInsert("posts", postId);
    }

    private String cursorOfUser(Account user) {
        return cursorOfInsert("users", user.id());
    }

    private String cursorOfInsert(String table, long id) {
        return insertPosition(table, id).toCursor();
    }
}
