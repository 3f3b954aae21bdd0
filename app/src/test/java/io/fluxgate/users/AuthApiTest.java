package io.fluxgate.users;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import io.fluxgate.support.IntegrationTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.http.HttpHeaders;
import org.springframework.http.MediaType;
import org.springframework.security.oauth2.jose.jws.MacAlgorithm;
import org.springframework.security.oauth2.jwt.JwsHeader;
import org.springframework.security.oauth2.jwt.JwtClaimsSet;
import org.springframework.security.oauth2.jwt.JwtEncoder;
import org.springframework.security.oauth2.jwt.JwtEncoderParameters;

import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.hasItem;

class AuthApiTest extends IntegrationTest {

    @Autowired
    JwtEncoder encoder;

    /**
     * Addresses that read alike are one address: a fullwidth twin of the admin's address is the
     * admin's (409 on registration, and it signs in as the admin with the admin's password); a
     * Cyrillic letter in the local part is refused; an internationalized domain is stored in ASCII.
     */
    @Test
    void aLookAlikeOfAnAddressIsThatAddress() {
        for (String twin : new String[] {"admin@test.\uFF4Cocal", "\uFF41dmin@test.local", "ADMIN\uFF20TEST\uFF0ELOCAL"}) {
            register("Impostor", twin).expectStatus().isEqualTo(409);
        }
        register("Impostor", "\u0430dmin@test.local").expectStatus().isBadRequest()
                .expectBody().jsonPath("$.errors[0].message").isEqualTo("Please provide a valid email address");
        long admin = admin().id();
        assertThat(login("admin@test.\uFF4Cocal").id()).as("the same address, the same account").isEqualTo(admin);
        String unique = "ada-" + java.util.UUID.randomUUID().toString().substring(0, 8);
        register("Ada", unique + "@B\u00FCcher.example").expectStatus().isCreated()
                .expectBody().jsonPath("$.email").isEqualTo(unique + "@xn--bcher-kva.example");
        register("Ada Again", unique + "@bu\u0308cher.example").expectStatus().isEqualTo(409);
    }

    private org.springframework.test.web.reactive.server.WebTestClient.ResponseSpec register(String name, String email) {
        return client.post().uri("/api/auth/register").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("name", name, "email", email, "password", PASSWORD))
                .exchange();
    }

    @Test
    void registerNormalizesAndNeverReturnsThePassword() {
        String email = uniqueEmail("Norm").toUpperCase();
        client.post().uri("/api/auth/register").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("name", "  Grace Hopper  ", "email", "  " + email + " ", "password", PASSWORD))
                .exchange()
                .expectStatus().isCreated()
                .expectHeader().valueMatches(HttpHeaders.LOCATION, "/api/users/\\d+")
                .expectBody()
                .jsonPath("$.name").isEqualTo("Grace Hopper")
                .jsonPath("$.email").isEqualTo(email.toLowerCase())
                .jsonPath("$.status").isEqualTo("active")
                .jsonPath("$.createdAt").isNotEmpty()
                .jsonPath("$.password").doesNotExist();
        client.post().uri("/api/auth/register").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("name", "Again", "email", email.toLowerCase(), "password", PASSWORD))
                .exchange()
                .expectStatus().isEqualTo(409)
                .expectHeader().contentType(MediaType.APPLICATION_PROBLEM_JSON)
                .expectBody().jsonPath("$.detail").isEqualTo("Email already registered");
    }

    static Stream<Arguments> invalidRegistrations() {
        String email = "valid@example.com";
        return Stream.of(
                Arguments.of(body(null, email, PASSWORD), "name", "Name is required"),
                Arguments.of(body("   ", email, PASSWORD), "name", "Name is required"),
                Arguments.of(body(" A ", email, PASSWORD), "name", "Name must be at least 2 characters"),
                Arguments.of(body("x".repeat(51), email, PASSWORD), "name", "Name cannot exceed 50 characters"),
                Arguments.of(body("Valid", null, PASSWORD), "email", "Email is required"),
                Arguments.of(body("Valid", "not-an-email", PASSWORD), "email", "Please provide a valid email address"),
                Arguments.of(body("Valid", "a@b", PASSWORD), "email", "Please provide a valid email address"),
                Arguments.of(body("Valid", email, null), "password", "Password is required"),
                Arguments.of(body("Valid", email, "short"), "password", "Password must be at least 8 characters"),
                Arguments.of(body("Valid", email, "p".repeat(73)), "password", "Password cannot exceed 72 characters"),
                // 40 characters but 80 bytes: bcrypt would refuse it.
                Arguments.of(body("Valid", email, "é".repeat(40)), "password", "Password cannot exceed 72 characters"));
    }

    private static Map<String, Object> body(String name, String email, String password) {
        Map<String, Object> body = new java.util.HashMap<>();
        body.put("name", name);
        body.put("email", email);
        body.put("password", password);
        return body;
    }

    @ParameterizedTest
    @MethodSource("invalidRegistrations")
    void eachValidationRuleAnswers400WithItsMessage(Map<String, Object> body, String field, String message) {
        client.post().uri("/api/auth/register").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(body)
                .exchange()
                .expectStatus().isBadRequest()
                .expectHeader().contentType(MediaType.APPLICATION_PROBLEM_JSON)
                .expectBody()
                .jsonPath("$.status").isEqualTo(400)
                .jsonPath("$.instance").isEqualTo("/api/auth/register")
                .jsonPath("$.errors[?(@.field == '" + field + "')].message").value(hasItem(message));
    }

    @Test
    void unknownFieldsAreRejectedNotMassAssigned() {
        String email = uniqueEmail("mass");
        client.post().uri("/api/auth/register").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("name", "Mallory", "email", email, "password", PASSWORD, "status", "suspended",
                        "roles", List.of("ADMIN")))
                .exchange()
                .expectStatus().isBadRequest()
                .expectBody().jsonPath("$.errors[0].message").isEqualTo("Unknown field");
        Account admin = admin();
        get(admin, "/api/users/by-email?email={email}", email).exchange().expectStatus().isNotFound();
    }

    @Test
    void malformedJsonIsA400() {
        client.post().uri("/api/auth/register").contentType(MediaType.APPLICATION_JSON)
                .bodyValue("{\"name\": ")
                .exchange()
                .expectStatus().isBadRequest()
                .expectBody().jsonPath("$.detail").isEqualTo("Malformed JSON in request body");
    }

    @Test
    void loginGivesTheSame401ForUnknownEmailAndWrongPassword() {
        Account user = newUser("Login");
        byte[] wrongPassword = loginFailure(user.email(), "wrong-password-1");
        byte[] unknownEmail = loginFailure(uniqueEmail("nobody"), PASSWORD);
        assertThat(new String(wrongPassword)).isEqualTo(new String(unknownEmail));
        assertThat(new String(wrongPassword)).contains("\"detail\":\"Invalid credentials\"");
    }

    private byte[] loginFailure(String email, String password) {
        return client.post().uri("/api/auth/login").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("email", email, "password", password))
                .exchange()
                .expectStatus().isUnauthorized()
                .expectBody().returnResult().getResponseBodyContent();
    }

    @Test
    void loginReturnsAWorkingTokenWithExpiry() {
        Account user = newUser("Token");
        get(user, "/api/users/{id}", user.id()).exchange()
                .expectStatus().isOk()
                .expectBody().jsonPath("$.email").isEqualTo(user.email());
    }

    @Test
    void requestsWithoutAValidTokenGet401() {
        client.get().uri("/api/users").exchange()
                .expectStatus().isUnauthorized()
                .expectHeader().valueEquals(HttpHeaders.WWW_AUTHENTICATE, "Bearer")
                .expectHeader().contentType(MediaType.APPLICATION_PROBLEM_JSON);
        client.get().uri("/api/users").header(HttpHeaders.AUTHORIZATION, "Bearer not.a.token").exchange()
                .expectStatus().isUnauthorized();
        Instant past = Instant.now().minusSeconds(3600);
        String expired = encoder.encode(JwtEncoderParameters.from(JwsHeader.with(MacAlgorithm.HS256).build(),
                JwtClaimsSet.builder().issuer("fluxgate").subject("1").issuedAt(past.minusSeconds(60))
                        .expiresAt(past).claim("roles", List.of("USER", "ADMIN")).build())).getTokenValue();
        client.get().uri("/api/users").header(HttpHeaders.AUTHORIZATION, "Bearer " + expired).exchange()
                .expectStatus().isUnauthorized();
    }

    @Test
    void adminRoleComesFromTheConfiguredEmails() {
        Account admin = admin();
        Account user = newUser("Plain");
        get(admin, "/api/admin/pools").exchange().expectStatus().isOk();
        get(user, "/api/admin/pools").exchange().expectStatus().isForbidden()
                .expectHeader().contentType(MediaType.APPLICATION_PROBLEM_JSON);
    }
}
