package io.fluxgate.security;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;

import io.fluxgate.support.Instances;
import io.fluxgate.support.IntegrationTest;
import io.fluxgate.support.WsClient;
import io.r2dbc.spi.ConnectionFactoryOptions;
import org.junit.jupiter.api.Test;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.core.env.Environment;
import org.springframework.http.HttpHeaders;
import org.springframework.http.MediaType;
import org.springframework.security.oauth2.jose.jws.MacAlgorithm;
import org.springframework.security.oauth2.jwt.JwsHeader;
import org.springframework.security.oauth2.jwt.JwtClaimsSet;
import org.springframework.security.oauth2.jwt.JwtEncoder;
import org.springframework.security.oauth2.jwt.JwtEncoderParameters;
import org.springframework.security.oauth2.jwt.ReactiveJwtDecoder;
import org.springframework.test.web.reactive.server.WebTestClient;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Suspension, deletion and a role taken away stop a user's existing tokens within 5 s, on REST and
 * on open WebSockets, on this replica and on others.
 */
class TokenRevocationTest extends IntegrationTest {

    /** The contract's bound: fluxgate.security.revocation-check-interval (2 s) plus the WebSocket check. */
    private static final Duration WITHIN = Duration.ofSeconds(5);

    /** The application's token decoder: verified tokens are remembered in front of Nimbus. */
    @Autowired
    ReactiveJwtDecoder decoder;

    @LocalServerPort
    int port;

    @Autowired
    JwtEncoder encoder;

    @Autowired
    Environment environment;

    @Autowired
    ConnectionFactoryOptions postgresConnectionOptions;

    @Test
    void aSuspendedUsersTokenStopsWorkingAndStaysStoppedWhenReactivated() {
        Account admin = admin();
        Account user = newUser("Suspended");
        ownProfile(user).expectStatus().isOk();
        setStatus(admin, user, "suspended");
        await().atMost(WITHIN).untilAsserted(() -> ownProfile(user).expectStatus().isUnauthorized());
        setStatus(admin, user, "active");
        // A token from before the suspension never comes back; a new login works.
        ownProfile(user).expectStatus().isUnauthorized();
        ownProfile(login(user.email())).expectStatus().isOk();
    }

    @Test
    void aRevokedTokenIsRefusedWhileItsVerificationIsStillRemembered() {
        Account admin = admin();
        Account user = newUser("Remembered");
        // Served once (on a saturated machine the first try may answer 503; the token is verified either way).
        await().atMost(WITHIN).untilAsserted(() -> ownProfile(user).expectStatus().isOk());
        assertThat(((VerifiedTokens) decoder).remembers(user.token())).as("verified once, then remembered").isTrue();
        setStatus(admin, user, "suspended");
        await().atMost(WITHIN).untilAsserted(() -> ownProfile(user).expectStatus().isUnauthorized());
        // The signature check is still remembered: revocation never depends on forgetting it.
        assertThat(((VerifiedTokens) decoder).remembers(user.token())).isTrue();
    }

    @Test
    void aDeletedUsersTokenStopsWorking() {
        Account user = newUser("Leaving");
        client.delete().uri("/api/users/{id}", user.id()).header(HttpHeaders.AUTHORIZATION, user.bearer())
                .exchange().expectStatus().isNoContent();
        await().atMost(WITHIN).untilAsserted(() -> get(user, "/api/posts?limit=1").exchange()
                .expectStatus().isUnauthorized());
    }

    @Test
    void anOpenWebSocketOfASuspendedUserIsClosedWith4003() {
        Account admin = admin();
        Account user = newUser("Socket Suspended");
        try (WsClient ws = WsClient.connect(port, user.token())) {
            ws.subscribe("post_changes");
            setStatus(admin, user, "suspended");
            assertThat(ws.awaitClose()).isEqualTo(4003);
        }
        assertThat(WsClient.handshakeStatus(port, user.token())).isEqualTo(401);
    }

    @Test
    void anOpenWebSocketWhoseTokenExpiresIsClosedWith4001() {
        Account user = newUser("Expiring");
        String shortLived = token(user.id(), List.of("USER"), Instant.now().plusSeconds(2));
        try (WsClient ws = WsClient.connect(port, shortLived)) {
            ws.subscribe("post_changes");
            assertThat(ws.awaitClose()).isEqualTo(4001);
        }
    }

    @Test
    void aRevocationOnOneReplicaBitesOnAnotherWithinFiveSeconds() {
        Account admin = admin();
        Account user = newUser("Elsewhere");
        try (ConfigurableApplicationContext other = Instances.start(environment, postgresConnectionOptions, Map.of())) {
            WebTestClient there = WebTestClient.bindToServer().baseUrl("http://localhost:" + Instances.portOf(other))
                    .responseTimeout(Duration.ofSeconds(20)).build();
            there.get().uri("/api/users/{id}", user.id()).header(HttpHeaders.AUTHORIZATION, user.bearer())
                    .exchange().expectStatus().isOk();
            setStatus(admin, user, "suspended");
            await().atMost(WITHIN).untilAsserted(() -> there.get().uri("/api/users/{id}", user.id())
                    .header(HttpHeaders.AUTHORIZATION, user.bearer()).exchange().expectStatus().isUnauthorized());
        }
    }

    @Test
    void aTokenClaimingARoleTheUserLostIsRefused() {
        Account admin = admin();
        Account user = newUser("Demoted");
        client.put().uri("/api/users/{id}/roles", user.id()).header(HttpHeaders.AUTHORIZATION, admin.bearer())
                .contentType(MediaType.APPLICATION_JSON).bodyValue(Map.of("roles", List.of("ADMIN")))
                .exchange().expectStatus().isOk();
        Account promoted = login(user.email());
        try (WsClient ws = WsClient.connect(port, promoted.token())) {
            ws.subscribe("user_changes");
            client.put().uri("/api/users/{id}/roles", user.id()).header(HttpHeaders.AUTHORIZATION, admin.bearer())
                    .contentType(MediaType.APPLICATION_JSON).bodyValue(Map.of("roles", List.of("USER")))
                    .exchange().expectStatus().isOk();
            get(promoted, "/api/admin/pools").exchange().expectStatus().isUnauthorized();
            assertThat(ws.awaitClose()).isEqualTo(4003);
        }
    }

    private WebTestClient.ResponseSpec ownProfile(Account user) {
        return get(user, "/api/users/{id}", user.id()).exchange();
    }

    private void setStatus(Account admin, Account user, String status) {
        client.patch().uri("/api/users/{id}", user.id()).header(HttpHeaders.AUTHORIZATION, admin.bearer())
                .contentType(MediaType.APPLICATION_JSON).bodyValue(Map.of("status", status))
                .exchange().expectStatus().isOk();
    }

    /**
     * A token issued before versions existed (no {@code ver}) is refused: those carried roles taken
     * from an email list anyone could get onto.
     */
    @Test
    void aTokenWithoutAVersionIsRefused() {
        Account user = newUser("Old Token");
        String unversioned = encoder.encode(JwtEncoderParameters.from(JwsHeader.with(MacAlgorithm.HS256).build(),
                JwtClaimsSet.builder().issuer("fluxgate").subject(Long.toString(user.id())).issuedAt(Instant.now())
                        .expiresAt(Instant.now().plusSeconds(600)).claim("roles", List.of("USER", "ADMIN")).build()))
                .getTokenValue();
        client.get().uri("/api/admin/pools").header(HttpHeaders.AUTHORIZATION, "Bearer " + unversioned)
                .exchange().expectStatus().isUnauthorized();
        assertThat(token(user.id(), List.of("USER"), Instant.now().plusSeconds(600))).as("with a version it holds")
                .satisfies(versioned -> client.get().uri("/api/users/{id}", user.id())
                        .header(HttpHeaders.AUTHORIZATION, "Bearer " + versioned).exchange().expectStatus().isOk());
    }

    private String token(long userId, List<String> roles, Instant expiresAt) {
        JwtClaimsSet claims = JwtClaimsSet.builder().issuer("fluxgate").subject(Long.toString(userId))
                .issuedAt(Instant.now()).expiresAt(expiresAt).claim("roles", roles).claim("ver", 1L).build();
        return encoder.encode(JwtEncoderParameters.from(JwsHeader.with(MacAlgorithm.HS256).build(), claims)).getTokenValue();
    }
}
