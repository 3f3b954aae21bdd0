package io.fluxgate.web;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import io.fluxgate.support.Instances;
import io.fluxgate.support.IntegrationTest;
import io.fluxgate.support.Tx;
import io.r2dbc.spi.ConnectionFactory;
import io.r2dbc.spi.ConnectionFactoryOptions;
import org.junit.jupiter.api.Test;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.core.env.Environment;
import org.springframework.http.HttpHeaders;
import org.springframework.http.MediaType;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A second instance is shut down while a transfer is in flight (held on a row lock the test owns):
 * the transfer finishes, a request that arrives meanwhile hears a clean 503, and then the instance
 * stops.
 */
class GracefulShutdownTest extends IntegrationTest {

    @Autowired
    ConnectionFactory connections;

    @Autowired
    ConnectionFactoryOptions postgresConnectionOptions;

    @Autowired
    Environment environment;

    @Test
    void requestsInFlightFinishAndNewOnesHear503() throws Exception {
        Account payer = newUser("Leaving");
        Account payee = newUser("Staying");
        Account admin = admin();
        for (Account account : new Account[] {payer, payee}) {
            client.post().uri("/api/accounts").header(HttpHeaders.AUTHORIZATION, account.bearer()).exchange()
                    .expectStatus().isCreated();
        }
        client.post().uri("/api/accounts/{id}/deposit", payer.id()).header(HttpHeaders.AUTHORIZATION, admin.bearer())
                .contentType(MediaType.APPLICATION_JSON).bodyValue(Map.of("amount", "20.00"))
                .exchange().expectStatus().isOk();

        ConfigurableApplicationContext instance = Instances.start(environment, postgresConnectionOptions, Map.of());
        int port = Instances.portOf(instance);
        ShutdownGate gate = instance.getBean(ShutdownGate.class);
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        CompletableFuture<Void> closing;
        try (Tx lock = Tx.begin(connections)) {
            lock.execute("SELECT 1 FROM accounts WHERE user_id = $1 FOR UPDATE", payer.id());
            CompletableFuture<HttpResponse<String>> inFlight = http.sendAsync(HttpRequest.newBuilder(
                            URI.create("http://localhost:" + port + "/api/transfers"))
                    .header(HttpHeaders.AUTHORIZATION, payer.bearer())
                    .header(HttpHeaders.CONTENT_TYPE, MediaType.APPLICATION_JSON_VALUE)
                    .POST(HttpRequest.BodyPublishers.ofString("{\"toUserId\":" + payee.id() + ",\"amount\":\"7.00\"}"))
                    .build(), HttpResponse.BodyHandlers.ofString());
            await(() -> gate.inFlight() == 1);

            closing = CompletableFuture.runAsync(instance::close);
            await(gate::isDraining);
            HttpResponse<String> late = http.send(HttpRequest.newBuilder(
                            URI.create("http://localhost:" + port + "/api/accounts/me"))
                    .header(HttpHeaders.AUTHORIZATION, payee.bearer()).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(late.statusCode()).isEqualTo(503);
            assertThat(late.headers().firstValue(HttpHeaders.CONTENT_TYPE)).hasValue(MediaType.APPLICATION_PROBLEM_JSON_VALUE);
            assertThat(late.body()).contains("shutting down");
            assertThat(inFlight).as("still waiting for the row lock").isNotDone();
            assertThat(closing).as("shutdown waits for the transfer").isNotDone();

            lock.commit();
            HttpResponse<String> finished = inFlight.get(10, TimeUnit.SECONDS);
            assertThat(finished.statusCode()).as(finished.body()).isEqualTo(201);
            assertThat(finished.body()).contains("\"amount\":\"7.00\"");
        }
        closing.get(30, TimeUnit.SECONDS);
        assertThat(instance.isActive()).isFalse();
        get(payee, "/api/accounts/me").exchange().expectStatus().isOk()
                .expectBody().jsonPath("$.balance").isEqualTo("7.00");
    }

    private static void await(BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (!condition.getAsBoolean()) {
            assertThat(System.nanoTime()).as("waited 10 s").isLessThan(deadline);
            Thread.sleep(10);
        }
    }
}
