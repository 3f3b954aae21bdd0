package io.fluxgate.users;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import io.fluxgate.support.IntegrationTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.http.HttpHeaders;
import org.springframework.http.MediaType;
import org.springframework.r2dbc.core.DatabaseClient;

import static org.assertj.core.api.Assertions.assertThat;

class UserApiTest extends IntegrationTest {

    @Autowired
    DatabaseClient db;

    record UserJson(long id, String name, String email, String status, List<String> roles, String avatar, String bio,
            String lastActive, String createdAt, String updatedAt) {
    }

    record OffsetPageJson(List<UserJson> data, int limit, int offset, long total) {
    }

    record KeysetPageJson(List<UserJson> data, boolean hasNextPage, String nextCursor) {
    }

    @ParameterizedTest
    @ValueSource(strings = {"name;DROP TABLE users", "name; DELETE FROM users", "id desc", "password",
            "(SELECT 1)", "created_at", "1"})
    void orderByOutsideTheWhitelistIs400AndChangesNothing(String orderBy) {
        Account user = newUser("Order");
        long before = userCount();
        get(user, "/api/users?orderBy={orderBy}", orderBy).exchange()
                .expectStatus().isBadRequest()
                .expectBody().jsonPath("$.errors[0].field").isEqualTo("orderBy");
        assertThat(userCount()).isEqualTo(before);
    }

    @ParameterizedTest
    @ValueSource(strings = {"order=up", "order=asc;--", "limit=0", "limit=101", "limit=ten", "offset=-1"})
    void badListParametersAre400(String query) {
        Account user = newUser("Params");
        get(user, "/api/users?" + query).exchange().expectStatus().isBadRequest();
    }

    @Test
    void listOrdersByAWhitelistedColumn() {
        Account user = newUser("Lister");
        OffsetPageJson page = get(user, "/api/users?orderBy=name&order=desc&limit=100").exchange()
                .expectStatus().isOk()
                .expectBody(OffsetPageJson.class).returnResult().getResponseBody();
        List<String> names = page.data().stream().map(UserJson::name).toList();
        assertThat(names).isSortedAccordingTo(java.util.Comparator.<String>reverseOrder());
        assertThat(page.limit()).isEqualTo(100);
        assertThat(page.total()).isEqualTo(userCount());
    }

    @Test
    void keysetPagesStayStableWhileRowsAreInserted() {
        Account reader = newUser("Reader");
        List<Long> existing = db.sql("SELECT id FROM users ORDER BY id").map(row -> row.get("id", Long.class))
                .all().collectList().block();
        List<Long> seen = new ArrayList<>();
        String cursor = null;
        int pages = 0;
        do {
            String uri = cursor == null ? "/api/users/page?limit=2" : "/api/users/page?limit=2&after=" + cursor;
            KeysetPageJson page = get(reader, uri).exchange().expectStatus().isOk()
                    .expectBody(KeysetPageJson.class).returnResult().getResponseBody();
            page.data().forEach(user -> seen.add(user.id()));
            cursor = page.nextCursor();
            assertThat(page.hasNextPage()).isEqualTo(cursor != null);
            // Someone else registers between every two page reads.
            newUser("Concurrent");
            pages++;
        } while (cursor != null && pages < 1000);
        assertThat(seen).doesNotHaveDuplicates().isSorted().containsAll(existing);
    }

    @Test
    void aForgedCursorIs400() {
        Account user = newUser("Cursor");
        get(user, "/api/users/page?after=not-a-cursor").exchange()
                .expectStatus().isBadRequest()
                .expectBody().jsonPath("$.errors[0].field").isEqualTo("after");
    }

    @Test
    void getByIdAndByEmail() {
        Account user = newUser("Finder");
        get(user, "/api/users/{id}", user.id()).exchange().expectStatus().isOk()
                .expectBody().jsonPath("$.id").isEqualTo(user.id()).jsonPath("$.password").doesNotExist();
        get(user, "/api/users/by-email?email={email}", "  " + user.email().toUpperCase() + " ").exchange()
                .expectStatus().isOk()
                .expectBody().jsonPath("$.id").isEqualTo(user.id());
        get(user, "/api/users/{id}", Long.MAX_VALUE).exchange().expectStatus().isNotFound()
                .expectHeader().contentType(MediaType.APPLICATION_PROBLEM_JSON);
        get(user, "/api/users/by-email?email=nobody@example.com").exchange().expectStatus().isNotFound();
        get(user, "/api/users/abc").exchange().expectStatus().isBadRequest();
    }

    @Test
    void usersMayEditThemselvesButNotOthers() {
        Account alice = newUser("Alice");
        Account bob = newUser("Bob");
        patch(alice, alice.id(), Map.of("name", " Alice Liddell ", "bio", "Down the hole"))
                .expectStatus().isOk()
                .expectBody()
                .jsonPath("$.name").isEqualTo("Alice Liddell")
                .jsonPath("$.bio").isEqualTo("Down the hole");
        patch(bob, alice.id(), Map.of("name", "Hacked")).expectStatus().isForbidden();
        patch(alice, alice.id(), Map.of("status", "suspended")).expectStatus().isForbidden();
        patch(alice, alice.id(), Map.of("bio", "b".repeat(501))).expectStatus().isBadRequest()
                .expectBody().jsonPath("$.errors[0].message").isEqualTo("Bio cannot exceed 500 characters");
        patch(alice, alice.id(), Map.of("email", "not-an-email")).expectStatus().isBadRequest();
        patch(alice, alice.id(), Map.of("id", 999)).expectStatus().isBadRequest();
        patch(alice, alice.id(), Map.of()).expectStatus().isBadRequest();
        get(alice, "/api/users/{id}", alice.id()).exchange().expectBody()
                .jsonPath("$.name").isEqualTo("Alice Liddell")
                .jsonPath("$.status").isEqualTo("active");
    }

    @Test
    void anEmptyStringClearsAnOptionalField() {
        Account user = newUser("Clear");
        patch(user, user.id(), Map.of("bio", "temporary")).expectStatus().isOk();
        patch(user, user.id(), Map.of("bio", "")).expectStatus().isOk()
                .expectBody().jsonPath("$.bio").value(org.hamcrest.Matchers.nullValue());
    }

    @Test
    void adminsMaySetStatus() {
        Account admin = admin();
        Account user = newUser("Suspect");
        patch(admin, user.id(), Map.of("status", "suspended")).expectStatus().isOk()
                .expectBody().jsonPath("$.status").isEqualTo("suspended");
        patch(admin, user.id(), Map.of("status", "deleted")).expectStatus().isBadRequest();
    }

    @Test
    void deleteIsForTheUserOrAnAdmin() {
        Account owner = newUser("Owner");
        Account other = newUser("Other");
        delete(other, owner.id()).expectStatus().isForbidden();
        get(other, "/api/users/{id}", owner.id()).exchange().expectStatus().isOk();
        delete(owner, owner.id()).expectStatus().isNoContent();
        get(other, "/api/users/{id}", owner.id()).exchange().expectStatus().isNotFound();
        Account victim = newUser("Victim");
        delete(admin(), victim.id()).expectStatus().isNoContent();
        delete(admin(), victim.id()).expectStatus().isNotFound();
    }

    @Test
    void activeListsRecentlySeenActiveUsersNewestFirst() {
        Account stale = newUser("Stale");
        db.sql("UPDATE users SET last_active = now() - interval '31 days' WHERE id = $1").bind(0, stale.id())
                .fetch().rowsUpdated().block();
        Account fresh = newUser("Fresh");
        List<UserJson> active = get(fresh, "/api/users/active?limit=100").exchange().expectStatus().isOk()
                .expectBodyList(UserJson.class).returnResult().getResponseBody();
        List<Long> ids = active.stream().map(UserJson::id).toList();
        assertThat(ids).contains(fresh.id()).doesNotContain(stale.id());
        assertThat(active).allMatch(user -> user.status().equals("active"));
        // As instants: ISO strings do not sort as text ("...:48Z" is a whole second, before "...:48.36Z").
        assertThat(active.stream().map(user -> java.time.Instant.parse(user.lastActive())).toList())
                .isSortedAccordingTo(java.util.Comparator.<java.time.Instant>reverseOrder());
    }

    @Test
    void statsCountEveryStatus() {
        Account user = newUser("Stats");
        Map<String, Long> expected = new HashMap<>();
        db.sql("SELECT status, count(*) AS n FROM users GROUP BY status")
                .map(row -> Map.entry(row.get("status", String.class), row.get("n", Long.class)))
                .all().toIterable().forEach(entry -> expected.put(entry.getKey(), entry.getValue()));
        get(user, "/api/users/stats").exchange().expectStatus().isOk()
                .expectBody()
                .jsonPath("$.active.count").isEqualTo(expected.getOrDefault("active", 0L).intValue())
                .jsonPath("$.inactive.count").isEqualTo(expected.getOrDefault("inactive", 0L).intValue())
                .jsonPath("$.suspended.count").isEqualTo(expected.getOrDefault("suspended", 0L).intValue())
                .jsonPath("$.active.avgInactiveDays").isNumber();
    }

    @Test
    void batchInsertIsAllOrNothing() {
        Account admin = admin();
        String prefix = "batch-" + System.nanoTime();
        List<Map<String, Object>> rows = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            rows.add(Map.of("name", "Batch " + i, "email", prefix + "-" + i + "@example.com", "password", PASSWORD));
        }
        List<Map<String, Object>> oneBad = new ArrayList<>(rows);
        oneBad.set(3, Map.of("name", "B", "email", prefix + "-3@example.com", "password", PASSWORD));
        batch(admin, oneBad).expectStatus().isBadRequest()
                .expectBody().jsonPath("$.errors[0].field").isEqualTo("[3].name");
        assertThat(countEmailsLike(prefix)).isZero();

        batch(admin, rows).expectStatus().isCreated().expectBody().jsonPath("$.inserted").isEqualTo(5);
        assertThat(countEmailsLike(prefix)).isEqualTo(5);

        List<Map<String, Object>> again = List.of(
                Map.of("name", "Fresh", "email", prefix + "-new@example.com", "password", PASSWORD),
                rows.get(2));
        batch(admin, again).expectStatus().isEqualTo(409)
                .expectBody().jsonPath("$.errors[0].field").isEqualTo("[1].email");
        assertThat(countEmailsLike(prefix)).isEqualTo(5);

        batch(admin, List.of(rows.get(0), rows.get(0))).expectStatus().isBadRequest()
                .expectBody().jsonPath("$.errors[0].field").isEqualTo("[1].email");
    }

    @Test
    void batchIsForAdminsOnly() {
        Account user = newUser("NotAdmin");
        batch(user, List.of(Map.of("name", "X Y", "email", uniqueEmail("x"), "password", PASSWORD)))
                .expectStatus().isForbidden();
    }

    private org.springframework.test.web.reactive.server.WebTestClient.ResponseSpec batch(Account as,
            List<Map<String, Object>> rows) {
        return client.post().uri("/api/users/batch").header(HttpHeaders.AUTHORIZATION, as.bearer())
                .contentType(MediaType.APPLICATION_JSON).bodyValue(rows).exchange();
    }

    private org.springframework.test.web.reactive.server.WebTestClient.ResponseSpec patch(Account as, long id,
            Map<String, Object> body) {
        return client.patch().uri("/api/users/{id}", id).header(HttpHeaders.AUTHORIZATION, as.bearer())
                .contentType(MediaType.APPLICATION_JSON).bodyValue(body).exchange();
    }

    private org.springframework.test.web.reactive.server.WebTestClient.ResponseSpec delete(Account as, long id) {
        return client.delete().uri("/api/users/{id}", id).header(HttpHeaders.AUTHORIZATION, as.bearer()).exchange();
    }

    private long userCount() {
        return db.sql("SELECT count(*) AS n FROM users").map(row -> row.get("n", Long.class)).one().block();
    }

    private long countEmailsLike(String prefix) {
        return db.sql("SELECT count(*) AS n FROM users WHERE email LIKE $1").bind(0, prefix + "%")
                .map(row -> row.get("n", Long.class)).one().block();
    }
}
