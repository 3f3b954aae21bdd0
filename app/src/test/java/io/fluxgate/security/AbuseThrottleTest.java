package io.fluxgate.security;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;

import io.fluxgate.support.Instances;
import io.fluxgate.support.IntegrationTest;
import io.r2dbc.spi.ConnectionFactoryOptions;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.core.env.Environment;
import org.springframework.http.MediaType;
import org.springframework.test.context.TestPropertySource;
import org.springframework.test.web.reactive.server.WebTestClient;
import org.springframework.web.reactive.function.client.WebClient;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Login, registration and per-account transfer limits. Behind a proxy (as on Kubernetes) the client
 * address comes from {@code X-Forwarded-For}; each test speaks from addresses of its own.
 */
@TestPropertySource(properties = {
        "server.forward-headers-strategy=native",
        "fluxgate.security.throttle.login-attempts-per-email=10",
        "fluxgate.security.throttle.login-attempts-per-email-overall=15",
        "fluxgate.security.throttle.login-attempts-per-address=20",
        "fluxgate.security.throttle.registrations-per-address=5",
        "fluxgate.accounts.transfers-per-user=5"})
class AbuseThrottleTest extends IntegrationTest {

    private static final AtomicInteger NEXT_ADDRESS = new AtomicInteger(1);

    @LocalServerPort
    int port;

    @Autowired
    Environment environment;

    @Autowired
    ConnectionFactoryOptions postgresConnectionOptions;

    /** A fresh client address for each caller, from TEST-NET-2. */
    private static String address() {
        int n = NEXT_ADDRESS.getAndIncrement();
        return "198.51." + (n / 250) + "." + (n % 250 + 1);
    }

    @Test
    void thirtyWrongPasswordsForOneAccountEndIn429AndTheRightOneWaitsToo() {
        String email = registered();
        String address = address();
        for (int attempt = 1; attempt <= 30; attempt++) {
            WebTestClient.ResponseSpec answer = login(client, email, "wrong-password", address);
            if (attempt <= 10) {
                answer.expectStatus().isUnauthorized();
            } else {
                answer.expectStatus().isEqualTo(429)
                        .expectHeader().contentType(MediaType.APPLICATION_PROBLEM_JSON)
                        .expectHeader().value("Retry-After", retryAfter -> assertThat(Long.parseLong(retryAfter))
                                .isBetween(1L, 15 * 60L));
            }
        }
        login(client, email, PASSWORD, address).expectStatus().isEqualTo(429);
        // Nor does moving to another address help: the email's overall count is spent as well.
        login(client, email, PASSWORD, address()).expectStatus().isEqualTo(429);
    }

    @Test
    void guessesSpreadOverManyAddressesHitTheEmailsOverallLimit() {
        String email = registered();
        for (int attempt = 1; attempt <= 20; attempt++) {
            login(client, email, "wrong-password", address()).expectStatus().isEqualTo(attempt <= 15 ? 401 : 429);
        }
    }

    @Test
    void forwardedValuesThatAreNotAddressesAllCountAsOneClient() {
        for (int attempt = 1; attempt <= 25; attempt++) {
            login(client, uniqueEmail("nobody"), "wrong-password", "not-an-address-" + attempt)
                    .expectStatus().isEqualTo(attempt <= 20 ? 401 : 429);
        }
    }

    @Test
    void oneAddressTryingManyAccountsIs429PastItsLimit() {
        String address = address();
        for (int attempt = 1; attempt <= 25; attempt++) {
            login(client, uniqueEmail("nobody"), "wrong-password", address)
                    .expectStatus().isEqualTo(attempt <= 20 ? 401 : 429);
        }
        // Another address is not affected.
        login(client, uniqueEmail("nobody"), "wrong-password", address()).expectStatus().isUnauthorized();
    }

    @Test
    void aSuccessfulLoginForgivesEarlierMistakes() {
        String email = registered();
        String address = address();
        for (int i = 0; i < 9; i++) {
            login(client, email, "wrong-password", address).expectStatus().isUnauthorized();
        }
        login(client, email, PASSWORD, address).expectStatus().isOk();
        for (int i = 0; i < 9; i++) {
            login(client, email, "wrong-password", address).expectStatus().isUnauthorized();
        }
    }

    @Test
    void parallelGuessesCannotSlipPastTheLimit() {
        String email = registered();
        WebClient http = WebClient.create("http://localhost:" + port);
        Map<Integer, Long> statuses = Flux.range(0, 40)
                .flatMap(i -> http.post().uri("/api/auth/login").contentType(MediaType.APPLICATION_JSON)
                        .header("X-Forwarded-For", address())
                        .bodyValue(Map.of("email", email, "password", "wrong-password"))
                        .exchangeToMono(response -> response.releaseBody().thenReturn(response.statusCode().value())), 40)
                .collect(Collectors.groupingBy(status -> status, Collectors.counting()))
                .block(Duration.ofSeconds(60));
        // Each from its own address: the email's overall limit (15) is what they all share.
        assertThat(statuses).containsOnlyKeys(401, 429).containsEntry(401, 15L).containsEntry(429, 25L);
    }

    @Test
    void registrationsFromOneAddressAreLimited() {
        String address = address();
        for (int i = 1; i <= 6; i++) {
            register(uniqueEmail("flood"), address).expectStatus().isEqualTo(i <= 5 ? 201 : 429);
        }
    }

    @Test
    void everyReplicaSharesTheCountsThroughRedis() {
        String email = registered();
        try (ConfigurableApplicationContext other = Instances.start(environment, postgresConnectionOptions,
                Map.of("server.forward-headers-strategy", "native",
                        "fluxgate.security.throttle.login-attempts-per-email-overall", "15"))) {
            WebTestClient there = WebTestClient.bindToServer().baseUrl("http://localhost:" + Instances.portOf(other))
                    .build();
            for (int i = 0; i < 15; i++) {
                login(i % 2 == 0 ? client : there, email, "wrong-password", address()).expectStatus().isUnauthorized();
            }
            login(there, email, "wrong-password", address()).expectStatus().isEqualTo(429);
            login(client, email, "wrong-password", address()).expectStatus().isEqualTo(429);
        }
    }

    @Test
    void oneAccountCannotFillTheTransferQueue() {
        String address = address();
        Account flooder = signedIn(registered(), address);
        Account patient = signedIn(registered(), address());
        Account payee = signedIn(registered(), address());
        for (Account account : java.util.List.of(flooder, patient, payee)) {
            client.post().uri("/api/accounts").header("Authorization", account.bearer()).exchange().expectStatus().isCreated();
        }
        WebClient http = WebClient.create("http://localhost:" + port);
        Map<Integer, Long> statuses = Flux.range(0, 40)
                .flatMap(i -> http.post().uri("/api/transfers").header("Authorization", flooder.bearer())
                        .contentType(MediaType.APPLICATION_JSON).bodyValue(Map.of("toUserId", payee.id(), "amount", "1.00"))
                        .exchangeToMono(response -> response.releaseBody().thenReturn(response.statusCode().value())), 40)
                .collect(Collectors.groupingBy(status -> status, Collectors.counting()))
                .block(Duration.ofSeconds(60));
        // No balance, so those let through answer 422; past five in flight the account hears 429.
        assertThat(statuses).containsOnlyKeys(422, 429);
        assertThat(statuses.get(422)).isBetween(5L, 39L);
        client.post().uri("/api/transfers").header("Authorization", patient.bearer()).contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("toUserId", payee.id(), "amount", "1.00")).exchange().expectStatus().isEqualTo(422);
    }

    private Account signedIn(String email, String address) {
        var body = login(client, email, PASSWORD, address).expectStatus().isOk()
                .expectBody(tools.jackson.databind.JsonNode.class).returnResult().getResponseBody();
        return new Account(body.path("user").path("id").asLong(), email, body.path("token").asString());
    }

    private String registered() {
        String email = uniqueEmail("victim");
        register(email, address()).expectStatus().isCreated();
        return email;
    }

    private WebTestClient.ResponseSpec register(String email, String address) {
        return client.post().uri("/api/auth/register").contentType(MediaType.APPLICATION_JSON)
                .header("X-Forwarded-For", address)
                .bodyValue(Map.of("name", "Someone", "email", email, "password", PASSWORD))
                .exchange();
    }

    private static WebTestClient.ResponseSpec login(WebTestClient client, String email, String password, String address) {
        return client.post().uri("/api/auth/login").contentType(MediaType.APPLICATION_JSON)
                .header("X-Forwarded-For", address)
                .bodyValue(Map.of("email", email, "password", password))
                .exchange();
    }
}
