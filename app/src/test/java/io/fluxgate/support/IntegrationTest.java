package io.fluxgate.support;

import java.time.Duration;
import java.util.Map;
import java.util.UUID;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import io.fluxgate.changes.hub.ChangeHub;
import io.fluxgate.changes.hub.Position;
import org.awaitility.Awaitility;
import tools.jackson.databind.JsonNode;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.webtestclient.autoconfigure.AutoConfigureWebTestClient;
import org.springframework.context.annotation.Import;
import org.springframework.http.HttpHeaders;
import org.springframework.http.MediaType;
import org.springframework.r2dbc.core.DatabaseClient;
import org.springframework.test.context.ActiveProfiles;
import org.springframework.test.web.reactive.server.WebTestClient;

/**
 * Base of the HTTP tests: the whole application on a random port, over a real PostgreSQL (see
 * {@link TestServices}), driven by a real HTTP client.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
@AutoConfigureWebTestClient
@Import(TestServices.class)
@ActiveProfiles("test")
public abstract class IntegrationTest {

    public static final String ADMIN_EMAIL = "admin@test.local";
    public static final String PASSWORD = "s3cret-Passw0rd";

    @Autowired
    protected WebTestClient client;

    @Autowired
    private ChangeHub hub;

    @Autowired
    private DatabaseClient database;

    /** A registered, logged-in user with a unique email. */
    public record Account(long id, String email, String token) {

        public String bearer() {
            return "Bearer " + token;
        }
    }

    protected static String uniqueEmail(String prefix) {
        return prefix + "-" + UUID.randomUUID().toString().substring(0, 8) + "@example.com";
    }

    protected Account newUser(String name) {
        return signUp(name, uniqueEmail(name.toLowerCase().replace(' ', '-')));
    }

    /** The bootstrap admin, which the test profile configures and start-up creates. */
    protected Account admin() {
        return login(ADMIN_EMAIL);
    }

    protected Account signUp(String name, String email) {
        client.post().uri("/api/auth/register").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("name", name, "email", email, "password", PASSWORD))
                .exchange()
                .expectStatus().isCreated();
        Account account = login(email);
        awaitSignUpPublished(account.id());
        return account;
    }

    /**
     * Waits until the change hub has published the user's INSERT. A sign-up is related to the user,
     * so a session that joins before the listener publishes it would receive it among the frames a
     * test expects; waiting here keeps every test's stream about what the test itself did.
     */
    private void awaitSignUpPublished(long userId) {
        awaitInsertPublished("users", userId);
    }

    /**
     * Waits until the INSERT of row {@code id} of {@code table} (a captured table) is in the change log
     * (at once with capture triggers; a moment after the commit when captured from the WAL), then until
     * the change hub has published it.
     */
    protected void awaitInsertPublished(String table, long id) {
        Position insert = Awaitility.await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(5))
                .until(() -> insertPosition(table, id), java.util.Objects::nonNull);
        Awaitility.await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(5))
                .until(() -> !insert.isAfter(hub.head()));
    }

    /** Where the INSERT of row {@code id} of {@code table} sits in the change log; null when it is not there. */
    protected Position insertPosition(String table, long id) {
        return database.sql("SELECT c.commit_seq, l.id FROM change_log l JOIN change_commit c USING (tx_id)"
                        + " WHERE l.table_name = $1 AND l.operation = 'INSERT' AND (l.row_data ->> 'id')::bigint = $2")
                .bind(0, table).bind(1, id)
                .map(row -> new Position(row.get("commit_seq", Long.class), row.get("id", Long.class)))
                .one().block();
    }

    protected Account login(String email) {
        LoginBody body = client.post().uri("/api/auth/login").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("email", email, "password", PASSWORD))
                .exchange()
                .expectStatus().isOk()
                .expectBody(LoginBody.class)
                .returnResult().getResponseBody();
        return new Account(body.user().id(), email, body.token());
    }

    @JsonIgnoreProperties(ignoreUnknown = true)
    record LoginBody(String token, String expiresAt, UserBody user) {
    }

    @JsonIgnoreProperties(ignoreUnknown = true)
    record UserBody(long id, String email) {
    }

    /** A post by {@code as}, through the API; its id. */
    protected long createPost(Account as, String title) {
        return client.post().uri("/api/posts").header(HttpHeaders.AUTHORIZATION, as.bearer())
                .contentType(MediaType.APPLICATION_JSON).bodyValue(Map.of("title", title, "body", "text of " + title))
                .exchange().expectStatus().isCreated()
                .expectBody(JsonNode.class).returnResult().getResponseBody().path("id").asLong();
    }

    protected WebTestClient.RequestHeadersSpec<?> get(Account as, String uri, Object... vars) {
        return client.get().uri(uri, vars).header(HttpHeaders.AUTHORIZATION, as.bearer());
    }
}
