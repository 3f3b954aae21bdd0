package io.fluxgate.profiles;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import io.fluxgate.support.IntegrationTest;
import io.fluxgate.support.MongoServers;
import io.fluxgate.support.WsClient;
import org.bson.Document;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import tools.jackson.databind.JsonNode;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.data.mongodb.core.ReactiveMongoTemplate;
import org.springframework.data.mongodb.core.query.Query;
import org.springframework.http.HttpHeaders;
import org.springframework.http.MediaType;
import org.springframework.security.crypto.bcrypt.BCrypt;
import org.springframework.test.web.reactive.server.WebTestClient;

import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.hasItem;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

class ProfileApiTest extends IntegrationTest {

    private static final String IN_PROCESS = "the in-process MongoDB (mongo-java-server) has no ";

    @Autowired
    ReactiveMongoTemplate mongo;

    @LocalServerPort
    int port;

    record View(String id, Long ownerId, String name, String email, String status, JsonNode fullProfile, JsonNode profile,
            JsonNode preferences, String lastActive, String createdAt, String updatedAt, JsonNode location,
            int posts, int followers) {
    }

    record Page(List<View> data, boolean hasNextPage, String nextCursor) {
    }

    private Account caller;

    private Account caller() {
        if (caller == null) {
            caller = newUser("Profiler");
        }
        return caller;
    }

    private WebTestClient.ResponseSpec post(String uri, Object body) {
        return client.post().uri(uri).header(HttpHeaders.AUTHORIZATION, caller().bearer())
                .contentType(MediaType.APPLICATION_JSON).bodyValue(body).exchange();
    }

    private WebTestClient.ResponseSpec getting(String uri, Object... vars) {
        return client.get().uri(uri, vars).header(HttpHeaders.AUTHORIZATION, caller().bearer()).exchange();
    }

    private static Map<String, Object> profile(String name, String email) {
        Map<String, Object> body = new HashMap<>();
        body.put("name", name);
        body.put("email", email);
        body.put("password", PASSWORD);
        return body;
    }

    private View create(Map<String, Object> body) {
        return post("/api/profiles", body).expectStatus().isCreated().expectBody(View.class).returnResult()
                .getResponseBody();
    }

    @Test
    void createAppliesTheSeedsDefaultsAndNeverReturnsThePassword() {
        String email = uniqueEmail("Prof").toUpperCase();
        Map<String, Object> body = profile("  Ada Lovelace ", "  " + email + " ");
        body.put("profile", Map.of("bio", "Analyst", "socialLinks", List.of(Map.of("platform", "github",
                "url", "https://github.com/ada"))));
        String raw = post("/api/profiles", body).expectStatus().isCreated()
                .expectHeader().valueMatches(HttpHeaders.LOCATION, "/api/profiles/[0-9a-f]{24}")
                .expectBody(String.class).returnResult().getResponseBody();
        assertThat(raw).doesNotContain("password").doesNotContain("$2a$").doesNotContain(PASSWORD);
        View view = create(profile("Grace", uniqueEmail("grace")));
        assertThat(view.status()).isEqualTo("active");
        assertThat(view.preferences().path("theme").asString()).isEqualTo("auto");
        assertThat(view.preferences().path("notifications").path("email").asBoolean()).isTrue();
        assertThat(view.preferences().path("notifications").path("push").asBoolean()).isTrue();
        // The seed's virtual: {name, email, avatar, bio}.
        assertThat(view.fullProfile().path("name").asString()).isEqualTo("Grace");
        assertThat(view.fullProfile().path("email").asString()).isEqualTo(view.email());
        assertThat(view.fullProfile().has("avatar")).isTrue();
        assertThat(view.fullProfile().has("bio")).isTrue();
        assertThat(view.ownerId()).isEqualTo(caller().id());
        assertThat(view.createdAt()).isNotNull();
        assertThat(view.lastActive()).isNotNull();

        JsonNode fetched = getting("/api/profiles?limit=100").expectStatus().isOk().expectBody(JsonNode.class)
                .returnResult().getResponseBody();
        assertThat(fetched.toString()).doesNotContain("password").doesNotContain("$2a$");
    }

    @Test
    void passwordsAreStoredAsBcryptHashes() {
        View view = create(profile("Hashed", uniqueEmail("hashed")));
        Document stored = mongo.findById(new org.bson.types.ObjectId(view.id()), Document.class, "profiles").block();
        String hash = stored.getString("password");
        assertThat(hash).startsWith("$2a$").isNotEqualTo(PASSWORD);
        assertThat(BCrypt.checkpw(PASSWORD, hash)).isTrue();
        // A new password in a patch is hashed too.
        client.patch().uri("/api/profiles/{id}", view.id()).header(HttpHeaders.AUTHORIZATION, caller().bearer())
                .contentType(MediaType.APPLICATION_JSON).bodyValue(Map.of("password", "another-secret-1"))
                .exchange().expectStatus().isOk()
                .expectBody().jsonPath("$.password").doesNotExist();
        String changed = mongo.findById(new org.bson.types.ObjectId(view.id()), Document.class, "profiles").block()
                .getString("password");
        assertThat(BCrypt.checkpw("another-secret-1", changed)).isTrue();
    }

    static Stream<Arguments> invalidProfiles() {
        String email = "valid-profile@example.com";
        Map<String, Object> longBio = profile("Valid", email);
        longBio.put("profile", Map.of("bio", "b".repeat(501)));
        Map<String, Object> badPlatform = profile("Valid", email);
        badPlatform.put("profile", Map.of("socialLinks", List.of(Map.of("platform", "myspace", "url", "https://x.io"))));
        Map<String, Object> badTheme = profile("Valid", email);
        badTheme.put("preferences", Map.of("theme", "neon"));
        Map<String, Object> noName = profile(null, email);
        Map<String, Object> noEmail = profile("Valid", null);
        Map<String, Object> noPassword = profile("Valid", email);
        noPassword.put("password", null);
        return Stream.of(
                Arguments.of(noName, "name", "Name is required"),
                Arguments.of(profile(" A ", email), "name", "Name must be at least 2 characters"),
                Arguments.of(profile("n".repeat(51), email), "name", "Name cannot exceed 50 characters"),
                Arguments.of(noEmail, "email", "Email is required"),
                Arguments.of(profile("Valid", "nope"), "email", "Please provide a valid email address"),
                Arguments.of(noPassword, "password", "Password is required"),
                Arguments.of(withPassword(profile("Valid", email), "short"), "password",
                        "Password must be at least 8 characters"),
                Arguments.of(longBio, "profile.bio", "Bio cannot exceed 500 characters"),
                Arguments.of(badPlatform, "profile.socialLinks[0].platform",
                        "Platform must be one of twitter, linkedin, github, website"),
                Arguments.of(badTheme, "preferences.theme", "Theme must be one of light, dark, auto"));
    }

    private static Map<String, Object> withPassword(Map<String, Object> body, String password) {
        body.put("password", password);
        return body;
    }

    @ParameterizedTest
    @MethodSource("invalidProfiles")
    void eachValidationRuleAnswers400WithItsMessage(Map<String, Object> body, String field, String message) {
        post("/api/profiles", body).expectStatus().isBadRequest()
                .expectHeader().contentType(MediaType.APPLICATION_PROBLEM_JSON)
                .expectBody()
                .jsonPath("$.errors[?(@.field == '" + field + "')].message").value(hasItem(message));
    }

    @Test
    void emailIsUniqueAcrossCase() {
        String email = uniqueEmail("twice");
        create(profile("First", email));
        post("/api/profiles", profile("Second", email.toUpperCase())).expectStatus().isEqualTo(409);
    }

    @Test
    void malformedAndUnknownIds() {
        getting("/api/profiles/not-an-id").expectStatus().isBadRequest();
        getting("/api/profiles/{id}", "0123456789abcdef01234567").expectStatus().isNotFound();
    }

    @Test
    void theUniqueEmailIndexExistsAfterStartUp() {
        assertThat(indexNames()).contains("email_unique");
    }

    @Test
    void everyIndexExistsOnARealServer() {
        assumeFalse(MongoServers.isInProcess(), IN_PROCESS + "compound, text or 2dsphere indexes");
        assertThat(indexNames()).contains("email_unique", "status_lastActive", "name_bio_text", "location_2dsphere");
    }

    private List<String> indexNames() {
        // Indexes are built in the background after start-up.
        for (int attempt = 0; attempt < 50; attempt++) {
            List<String> names = mongo.indexOps("profiles").getIndexInfo().map(info -> info.getName()).collectList()
                    .block();
            if (names.contains("email_unique")) {
                return names;
            }
            sleep(100);
        }
        return List.of();
    }

    @Test
    void searchTreatsTheQueryAsText() {
        String tag = "zq" + System.nanoTime();
        create(profile("Regex Fan " + tag, uniqueEmail("regex")));
        Map<String, Object> dotStar = profile("Literal " + tag, uniqueEmail("literal"));
        dotStar.put("profile", Map.of("bio", "I write .* in " + tag));
        View literal = create(dotStar);
        List<View> found = getting("/api/profiles/search?q={q}", ".* in " + tag).expectStatus().isOk()
                .expectBodyList(View.class).returnResult().getResponseBody();
        assertThat(found).extracting(View::id).containsExactly(literal.id());
        assertThat(getting("/api/profiles/search?q={q}", "(a+)+$").expectStatus().isOk()
                .expectBodyList(View.class).returnResult().getResponseBody()).isEmpty();
        assertThat(getting("/api/profiles/search?q={q}", tag).expectStatus().isOk()
                .expectBodyList(View.class).returnResult().getResponseBody()).hasSize(2);
    }

    @Test
    void textSearchRanksByScoreOnARealServer() {
        assumeFalse(MongoServers.isInProcess(), IN_PROCESS + "$text");
        String word = "rank" + System.nanoTime();
        Map<String, Object> once = profile("Once", uniqueEmail("once"));
        once.put("profile", Map.of("bio", word + " appears once"));
        Map<String, Object> twice = profile("Twice " + word, uniqueEmail("twice"));
        twice.put("profile", Map.of("bio", word + " " + word));
        create(once);
        View best = create(twice);
        List<View> found = getting("/api/profiles/search?q={q}", word).expectStatus().isOk()
                .expectBodyList(View.class).returnResult().getResponseBody();
        assertThat(found.get(0).id()).isEqualTo(best.id());
    }

    @Test
    void nearFindsProfilesByDistanceOnARealServer() {
        assumeFalse(MongoServers.isInProcess(), IN_PROCESS + "$near");
        Map<String, Object> close = profile("Close", uniqueEmail("close"));
        close.put("location", Map.of("lng", 13.405, "lat", 52.52));
        Map<String, Object> far = profile("Far", uniqueEmail("far"));
        far.put("location", Map.of("lng", 2.35, "lat", 48.85));
        View closeView = create(close);
        create(far);
        List<View> found = getting("/api/profiles/near?lng=13.40&lat=52.52&maxDistance=5000").expectStatus().isOk()
                .expectBodyList(View.class).returnResult().getResponseBody();
        assertThat(found).extracting(View::id).contains(closeView.id());
        assertThat(found).extracting(View::name).doesNotContain("Far");
    }

    @Test
    void nearSaysSoWhenTheServerCannot() {
        assumeFalse(!MongoServers.isInProcess(), "a real server answers geo queries");
        getting("/api/profiles/near?lng=13.40&lat=52.52").expectStatus().isEqualTo(501);
    }

    @Test
    void keysetPagesHaveNoGapsOrRepeatsWhileInserting() {
        for (int i = 0; i < 5; i++) {
            create(profile("Paged " + i, uniqueEmail("paged")));
        }
        List<String> existing = mongo.find(new Query(), Document.class, "profiles")
                .map(document -> document.getObjectId("_id").toHexString()).collectList().block();
        List<String> seen = new ArrayList<>();
        String cursor = null;
        do {
            Page page = getting(cursor == null ? "/api/profiles?limit=3" : "/api/profiles?limit=3&cursor=" + cursor)
                    .expectStatus().isOk().expectBody(Page.class).returnResult().getResponseBody();
            page.data().forEach(view -> seen.add(view.id()));
            cursor = page.nextCursor();
            create(profile("Meanwhile", uniqueEmail("meanwhile")));
        } while (cursor != null);
        assertThat(seen).doesNotHaveDuplicates().containsAll(existing).isSorted();
    }

    @Test
    void statsAndTopMatchHandComputedExpectations() {
        mongo.remove(new Query(), "profiles").block();
        Instant now = Instant.now();
        seed("a1", "active", now.minus(Duration.ofDays(2)), 10, 4);   // score 12
        seed("a2", "active", now.minus(Duration.ofDays(4)), 3, 20);   // score 13
        seed("a3", "active", now.minus(Duration.ofDays(6)), 0, 1);    // score 0.5
        seed("i1", "inactive", now.minus(Duration.ofDays(40)), 50, 50);
        seed("s1", "suspended", now.minus(Duration.ofDays(10)), 99, 99);
        seed("s2", "suspended", now.minus(Duration.ofDays(20)), 1, 1);

        JsonNode stats = getting("/api/profiles/stats").expectStatus().isOk().expectBody(JsonNode.class)
                .returnResult().getResponseBody();
        assertThat(stats.get(0).path("status").asString()).isEqualTo("active");
        assertThat(stats.get(0).path("count").asInt()).isEqualTo(3);
        assertThat(stats.get(0).path("avgDaysInactive").asDouble()).isBetween(3.9, 4.1);
        assertThat(stats.get(1).path("status").asString()).isEqualTo("suspended");
        assertThat(stats.get(1).path("count").asInt()).isEqualTo(2);
        assertThat(stats.get(1).path("avgDaysInactive").asDouble()).isBetween(14.9, 15.1);
        assertThat(stats.get(2).path("status").asString()).isEqualTo("inactive");

        JsonNode top = getting("/api/profiles/top?limit=2").expectStatus().isOk().expectBody(JsonNode.class)
                .returnResult().getResponseBody();
        assertThat(top).hasSize(2);
        assertThat(top.get(0).path("name").asString()).isEqualTo("a2");
        assertThat(top.get(0).path("activityScore").asDouble()).isEqualTo(13.0);
        assertThat(top.get(1).path("name").asString()).isEqualTo("a1");
        assertThat(top.toString()).doesNotContain("password");
    }

    private void seed(String name, String status, Instant lastActive, int posts, int followers) {
        mongo.insert(new Document(Map.of("name", name, "email", name + System.nanoTime() + "@seed.io",
                "password", "$2a$04$seedseedseedseedseedseedseedseedseedseedseedseedseeds", "status", status,
                "lastActive", java.util.Date.from(lastActive), "posts", posts, "followers", followers)), "profiles")
                .block();
    }

    @Test
    void activeListsProfilesSeenInTheLastThirtyDays() {
        View fresh = create(profile("Fresh", uniqueEmail("fresh")));
        mongo.insert(new Document(Map.of("name", "Stale", "email", uniqueEmail("stale"), "status", "active",
                "lastActive", java.util.Date.from(Instant.now().minus(Duration.ofDays(31))))), "profiles").block();
        List<View> active = getting("/api/profiles/active?limit=100").expectStatus().isOk()
                .expectBodyList(View.class).returnResult().getResponseBody();
        assertThat(active).extracting(View::id).contains(fresh.id());
        assertThat(active).extracting(View::name).doesNotContain("Stale");
    }

    @Test
    void bulkWriteReportsItsCounts() {
        View toUpdate = create(profile("Bulk Update", uniqueEmail("bulk-u")));
        View toDelete = create(profile("Bulk Delete", uniqueEmail("bulk-d")));
        List<Map<String, Object>> operations = List.of(
                Map.of("op", "insert", "profile", profile("Bulk One", uniqueEmail("bulk-1"))),
                Map.of("op", "insert", "profile", profile("Bulk Two", uniqueEmail("bulk-2"))),
                Map.of("op", "update", "id", toUpdate.id(), "set", Map.of("name", "Bulk Updated")),
                Map.of("op", "delete", "id", toDelete.id()));
        client.post().uri("/api/profiles/bulk").header(HttpHeaders.AUTHORIZATION, admin().bearer())
                .contentType(MediaType.APPLICATION_JSON).bodyValue(operations).exchange()
                .expectStatus().isOk()
                .expectBody()
                .jsonPath("$.insertedCount").isEqualTo(2)
                .jsonPath("$.matchedCount").isEqualTo(1)
                .jsonPath("$.modifiedCount").isEqualTo(1)
                .jsonPath("$.deletedCount").isEqualTo(1)
                .jsonPath("$.upsertedCount").isEqualTo(0);
        getting("/api/profiles/{id}", toUpdate.id()).expectStatus().isOk()
                .expectBody().jsonPath("$.name").isEqualTo("Bulk Updated");
        getting("/api/profiles/{id}", toDelete.id()).expectStatus().isNotFound();
        client.post().uri("/api/profiles/bulk").header(HttpHeaders.AUTHORIZATION, admin().bearer())
                .contentType(MediaType.APPLICATION_JSON).bodyValue(List.of(Map.of("op", "update", "id", "bad")))
                .exchange().expectStatus().isBadRequest();
    }

    @Test
    void bulkWritesAreForAdminsOnly() {
        View someoneElses = create(profile("Not Yours", uniqueEmail("not-yours")));
        Account stranger = newUser("Bulk Stranger");
        client.post().uri("/api/profiles/bulk").header(HttpHeaders.AUTHORIZATION, stranger.bearer())
                .contentType(MediaType.APPLICATION_JSON)
                .bodyValue(List.of(Map.of("op", "delete", "id", someoneElses.id())))
                .exchange().expectStatus().isForbidden();
        getting("/api/profiles/{id}", someoneElses.id()).expectStatus().isOk();
    }

    @Test
    void onlyTheOwnerOrAnAdminChangesOrDeletesAProfile() {
        View mine = create(profile("Owned", uniqueEmail("owned")));
        Account stranger = newUser("Stranger");
        for (Map<String, Object> patch : List.<Map<String, Object>>of(Map.of("status", "suspended"),
                Map.of("password", "taken-over-1"), Map.of("name", "Hijacked"))) {
            client.patch().uri("/api/profiles/{id}", mine.id()).header(HttpHeaders.AUTHORIZATION, stranger.bearer())
                    .contentType(MediaType.APPLICATION_JSON).bodyValue(patch).exchange()
                    .expectStatus().isForbidden()
                    .expectHeader().contentType(MediaType.APPLICATION_PROBLEM_JSON);
        }
        client.delete().uri("/api/profiles/{id}", mine.id()).header(HttpHeaders.AUTHORIZATION, stranger.bearer())
                .exchange().expectStatus().isForbidden();
        View unchanged = getting("/api/profiles/{id}", mine.id()).expectStatus().isOk().expectBody(View.class)
                .returnResult().getResponseBody();
        assertThat(unchanged.name()).isEqualTo("Owned");
        assertThat(unchanged.status()).isEqualTo("active");
        String hash = mongo.findById(new org.bson.types.ObjectId(mine.id()), Document.class, "profiles").block()
                .getString("password");
        assertThat(BCrypt.checkpw(PASSWORD, hash)).isTrue();

        client.patch().uri("/api/profiles/{id}", mine.id()).header(HttpHeaders.AUTHORIZATION, caller().bearer())
                .contentType(MediaType.APPLICATION_JSON).bodyValue(Map.of("name", "Still Mine")).exchange()
                .expectStatus().isOk();
        client.patch().uri("/api/profiles/{id}", mine.id()).header(HttpHeaders.AUTHORIZATION, admin().bearer())
                .contentType(MediaType.APPLICATION_JSON).bodyValue(Map.of("status", "inactive")).exchange()
                .expectStatus().isOk();
        client.delete().uri("/api/profiles/{id}", "0123456789abcdef01234567")
                .header(HttpHeaders.AUTHORIZATION, stranger.bearer()).exchange().expectStatus().isNotFound();
        client.delete().uri("/api/profiles/{id}", mine.id()).header(HttpHeaders.AUTHORIZATION, admin().bearer())
                .exchange().expectStatus().isNoContent();
    }

    @Test
    void profileAndAccountAreCreatedTogetherOnAReplicaSet() {
        assumeFalse(MongoServers.isInProcess(), IN_PROCESS + "multi-document transactions");
        String email = uniqueEmail("tx");
        post("/api/profiles/with-account", Map.of("profile", profile("Tx", email), "account", Map.of("plan", "pro")))
                .expectStatus().isCreated()
                .expectBody().jsonPath("$.account.plan").isEqualTo("pro").jsonPath("$.profile.email").isEqualTo(email);
        // The same email again: the profile insert fails, so no second account appears either.
        long accounts = mongo.count(new Query(), "profile_accounts").block();
        post("/api/profiles/with-account", Map.of("profile", profile("Tx", email), "account", Map.of("plan", "free")))
                .expectStatus().isEqualTo(409);
        assertThat(mongo.count(new Query(), "profile_accounts").block()).isEqualTo(accounts);
    }

    @Test
    void withAccountSaysSoWhenTheServerHasNoTransactions() {
        assumeFalse(!MongoServers.isInProcess(), "a replica set runs the transaction");
        post("/api/profiles/with-account", Map.of("profile", profile("Tx", uniqueEmail("tx")),
                "account", Map.of("plan", "pro"))).expectStatus().isEqualTo(501);
    }

    @Test
    void changesStreamToSubscribersWithoutThePassword() {
        try (WsClient ws = WsClient.connect(port, caller().token())) {
            ws.subscribe("profile_changes");
            View view = create(profile("Streamed", uniqueEmail("streamed")));
            JsonNode inserted = nextAbout(ws, view.id());
            assertThat(inserted.path("channel").asString()).isEqualTo("profile_changes");
            assertThat(inserted.path("operation").asString()).isEqualTo("INSERT");
            assertThat(inserted.path("data").path("id").asString()).isEqualTo(view.id());
            assertThat(inserted.toString()).doesNotContain("password").doesNotContain("$2a$");

            client.patch().uri("/api/profiles/{id}", view.id()).header(HttpHeaders.AUTHORIZATION, caller().bearer())
                    .contentType(MediaType.APPLICATION_JSON).bodyValue(Map.of("name", "Streamed Again"))
                    .exchange().expectStatus().isOk();
            JsonNode updated = nextAbout(ws, view.id());
            assertThat(updated.path("operation").asString()).isEqualTo("UPDATE");
            assertThat(updated.toString()).doesNotContain("password");

            client.delete().uri("/api/profiles/{id}", view.id()).header(HttpHeaders.AUTHORIZATION, caller().bearer())
                    .exchange().expectStatus().isNoContent();
            JsonNode deleted = nextAbout(ws, view.id());
            assertThat(deleted.path("operation").asString()).isEqualTo("DELETE");
            assertThat(deleted.path("data").path("id").asString()).isEqualTo(view.id());
        }
    }

    /**
     * The next change of profile {@code id}. profile_changes carries every profile's changes, and
     * another test's may still be on its way (a live channel has no start position): those are
     * skipped, and they too must carry no password.
     */
    private static JsonNode nextAbout(WsClient ws, String id) {
        for (;;) {
            JsonNode frame = ws.next();
            assertThat(frame.toString()).doesNotContain("password").doesNotContain("$2a$");
            if (frame.path("data").path("id").asString().equals(id)) {
                return frame;
            }
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
