package io.fluxgate.users;

import java.util.List;
import java.util.Map;

import io.fluxgate.support.IntegrationTest;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.http.HttpHeaders;
import org.springframework.http.MediaType;
import org.springframework.r2dbc.core.DatabaseClient;
import org.springframework.test.context.TestPropertySource;
import org.springframework.test.web.reactive.server.WebTestClient;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Roles live in the database. The old rule (an email on a configured list is admin) is set here on
 * purpose, to show that no address grants anything any more.
 */
@TestPropertySource(properties = "fluxgate.security.admin-emails=boss@example.com,other-boss@example.com")
class RolesApiTest extends IntegrationTest {

    @Autowired
    DatabaseClient db;

    @Autowired
    BootstrapAdmin bootstrap;

    @Test
    void theBootstrapAdminExistsFromStartUpWithTheAdminRole() {
        JsonNode login = loginBody(ADMIN_EMAIL, PASSWORD);
        assertThat(login.path("user").path("roles").valueStream().map(JsonNode::asString)).containsExactly("USER", "ADMIN");
        get(admin(), "/api/admin/pools").exchange().expectStatus().isOk();
    }

    @Test
    void anAddressNoLongerGrantsARole() {
        Account boss = signUp("Boss", "boss@example.com");
        assertThat(loginBody("boss@example.com", PASSWORD).path("user").path("roles").valueStream()
                .map(JsonNode::asString)).containsExactly("USER");
        get(boss, "/api/admin/pools").exchange().expectStatus().isForbidden();

        Account climber = newUser("Climber");
        patch(climber, "/api/users/" + climber.id(), Map.of("email", "other-boss@example.com")).expectStatus().isOk();
        Account relogged = login("other-boss@example.com");
        get(relogged, "/api/admin/pools").exchange().expectStatus().isForbidden();
        client.post().uri("/api/users/batch").header(HttpHeaders.AUTHORIZATION, relogged.bearer())
                .contentType(MediaType.APPLICATION_JSON).bodyValue(List.of()).exchange().expectStatus().isForbidden();
    }

    @Test
    void nobodyCanSendThemselvesARole() {
        client.post().uri("/api/auth/register").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("name", "Sneaky", "email", uniqueEmail("sneaky"), "password", PASSWORD,
                        "roles", List.of("ADMIN")))
                .exchange().expectStatus().isBadRequest();
        Account user = newUser("Patcher");
        patch(user, "/api/users/" + user.id(), Map.of("roles", List.of("ADMIN"))).expectStatus().isBadRequest();
        put(user, user.id(), List.of("USER", "ADMIN")).expectStatus().isForbidden();
        assertThat(rolesOf(user.id())).containsExactly("USER");
    }

    @Test
    void anAdminGrantsAndTakesAwayTheAdminRole() {
        Account admin = admin();
        Account user = newUser("Promoted");
        put(admin, user.id(), List.of("ADMIN")).expectStatus().isOk()
                .expectBody().jsonPath("$.roles").isEqualTo(List.of("USER", "ADMIN"))
                .jsonPath("$.password").doesNotExist();
        Account promoted = login(user.email());
        get(promoted, "/api/admin/pools").exchange().expectStatus().isOk();

        put(admin, user.id(), List.of("USER")).expectStatus().isOk()
                .expectBody().jsonPath("$.roles").isEqualTo(List.of("USER"));
        // Taking a role away revokes the tokens that carry it (this replica forgets at once).
        get(promoted, "/api/admin/pools").exchange().expectStatus().isUnauthorized();
        get(login(user.email()), "/api/admin/pools").exchange().expectStatus().isForbidden();
    }

    @Test
    void anAdminCannotTakeItsOwnAdminRoleAway() {
        Account admin = admin();
        put(admin, admin.id(), List.of("USER")).expectStatus().isEqualTo(409)
                .expectHeader().contentType(MediaType.APPLICATION_PROBLEM_JSON);
        assertThat(rolesOf(admin.id())).contains("ADMIN");
    }

    @Test
    void badRoleRequestsAre400Or404() {
        Account admin = admin();
        Account user = newUser("Target");
        put(admin, user.id(), List.of("ROOT")).expectStatus().isBadRequest()
                .expectBody().jsonPath("$.errors[0].message").isEqualTo("Role must be one of USER, ADMIN");
        client.put().uri("/api/users/{id}/roles", user.id()).header(HttpHeaders.AUTHORIZATION, admin.bearer())
                .contentType(MediaType.APPLICATION_JSON).bodyValue(Map.of()).exchange().expectStatus().isBadRequest();
        put(admin, 987_654_321L, List.of("ADMIN")).expectStatus().isNotFound();
        assertThat(rolesOf(user.id())).containsExactly("USER");
    }

    @Test
    void theBootstrapResetsAnExistingUserOfItsAddress() {
        Account user = newUser("Reset Me");
        bootstrap.ensure(user.email(), "Another-passw0rd!").block();
        client.post().uri("/api/auth/login").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("email", user.email(), "password", PASSWORD)).exchange()
                .expectStatus().isUnauthorized();
        JsonNode login = loginBody(user.email(), "Another-passw0rd!");
        assertThat(login.path("user").path("id").asLong()).isEqualTo(user.id());
        assertThat(login.path("user").path("roles").valueStream().map(JsonNode::asString)).contains("ADMIN");
        // The password changed, so tokens issued before it no longer hold.
        get(user, "/api/users/" + user.id()).exchange().expectStatus().isUnauthorized();
    }

    @Test
    void aBootstrapAdminAlreadyInPlaceIsLeftUntouched() {
        long before = changesOf(ADMIN_EMAIL);
        bootstrap.ensure(ADMIN_EMAIL, PASSWORD).block();
        assertThat(changesOf(ADMIN_EMAIL)).isEqualTo(before);
    }

    private long changesOf(String email) {
        return db.sql("SELECT count(*) AS n FROM change_log WHERE table_name = 'users' AND row_data ->> 'email' = $1")
                .bind(0, email).map(row -> row.get("n", Long.class)).one().block();
    }

    private List<String> rolesOf(long id) {
        return List.of(db.sql("SELECT roles FROM users WHERE id = $1").bind(0, id)
                .map(row -> row.get("roles", String[].class)).one().block());
    }

    private JsonNode loginBody(String email, String password) {
        return client.post().uri("/api/auth/login").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("email", email, "password", password)).exchange()
                .expectStatus().isOk()
                .expectBody(JsonNode.class).returnResult().getResponseBody();
    }

    private WebTestClient.ResponseSpec put(Account as, long id, List<String> roles) {
        return client.put().uri("/api/users/{id}/roles", id).header(HttpHeaders.AUTHORIZATION, as.bearer())
                .contentType(MediaType.APPLICATION_JSON).bodyValue(Map.of("roles", roles)).exchange();
    }

    private WebTestClient.ResponseSpec patch(Account as, String uri, Map<String, Object> body) {
        return client.patch().uri(uri).header(HttpHeaders.AUTHORIZATION, as.bearer())
                .contentType(MediaType.APPLICATION_JSON).bodyValue(body).exchange();
    }
}
