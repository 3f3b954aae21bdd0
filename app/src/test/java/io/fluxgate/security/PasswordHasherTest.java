package io.fluxgate.security;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import io.fluxgate.web.ApiException;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import org.springframework.http.HttpStatus;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The real hasher at real costs: bounded queues refuse at once, and data writes never crowd out signing in. */
class PasswordHasherTest {

    private static final int CORES = Runtime.getRuntime().availableProcessors();
    private PasswordHasher hasher;

    private PasswordHasher hasher(int cost, int queue, int dataQueue) {
        hasher = new PasswordHasher(new SecurityProperties("", Duration.ofHours(1), "fluxgate", cost,
                new SecurityProperties.BootstrapAdmin("", ""), Duration.ofSeconds(2),
                new SecurityProperties.Hashing(queue, dataQueue),
                new SecurityProperties.Throttle(10, 100, 100, 30, Duration.ofMinutes(15)), 10_000), new SimpleMeterRegistry());
        return hasher;
    }

    @AfterEach
    void stop() {
        if (hasher != null) {
            hasher.destroy();
        }
    }

    @Test
    void pastItsQueueTheInteractiveLaneAnswers503AtOnce() throws Exception {
        // Cost 12: each hash takes a few hundred milliseconds, far longer than submitting them all.
        PasswordHasher hasher = hasher(12, 1, 10);
        List<CompletableFuture<String>> hashes = new ArrayList<>();
        for (int i = 0; i < CORES + 4; i++) {
            hashes.add(hasher.hash("password-" + i).toFuture());
        }
        int refused = 0;
        for (CompletableFuture<String> hash : hashes) {
            try {
                assertThat(hash.get(60, TimeUnit.SECONDS)).startsWith("$2a$12$");
            } catch (java.util.concurrent.ExecutionException e) {
                assertThat(e.getCause()).isInstanceOf(ApiException.class);
                ApiException busy = (ApiException) e.getCause();
                assertThat(busy.status()).isEqualTo(HttpStatus.SERVICE_UNAVAILABLE);
                assertThat(busy.retryAfter()).isPositive();
                refused++;
            }
        }
        // One per thread ran, one waited; the rest were refused without queueing.
        assertThat(refused).isEqualTo(3);
    }

    @Test
    void profilePasswordsSpendTheDataBudgetNotTheSignInQueue() {
        PasswordHasher hasher = hasher(10, 1, 4);
        CompletableFuture<List<String>> batch = hasher.hashAll(Collections.nCopies(4, "password")).toFuture();
        assertThatThrownBy(() -> hasher.hashForData("a-profile-password").block())
                .as("the data budget is spent").isInstanceOf(ApiException.class);
        assertThat(hasher.matches("password", hasher.hash("password").block()).block())
                .as("signing in is unaffected").isTrue();
        assertThat(batch.join()).hasSize(4);
        assertThat(hasher.hashForData("a-profile-password").block()).startsWith("$2a$10$");
    }

    @Test
    void aBulkRequestLargerThanTheBudgetIsRefusedBeforeAnyWork() {
        PasswordHasher hasher = hasher(4, 64, 10);
        assertThatThrownBy(() -> hasher.hashAll(Collections.nCopies(11, "password")).block())
                .isInstanceOf(ApiException.class)
                .extracting(e -> ((ApiException) e).status()).isEqualTo(HttpStatus.SERVICE_UNAVAILABLE);
        assertThat(hasher.hashAll(Collections.nCopies(10, "password")).block()).hasSize(10)
                .allSatisfy(hash -> assertThat(hash).startsWith("$2a$04$"));
    }

    @Test
    void aRunningBatchHoldsItsReservationAndLeavesLoginsTheirOwnThreads() throws Exception {
        PasswordHasher hasher = hasher(10, 64, 30);
        CompletableFuture<List<String>> batch = hasher.hashAll(Collections.nCopies(24, "password")).toFuture();
        assertThatThrownBy(() -> hasher.hashAll(Collections.nCopies(8, "password")).block())
                .as("a second batch does not fit beside the first").isInstanceOf(ApiException.class);
        String login = hasher.hash("interactive").block(Duration.ofSeconds(30));
        assertThat(login).startsWith("$2a$10$");
        assertThat(batch).as("the login was not queued behind the batch").isNotDone();
        assertThat(batch.get(120, TimeUnit.SECONDS)).hasSize(24);
        assertThat(hasher.hashAll(Collections.nCopies(8, "password")).block()).as("the budget is back").hasSize(8);
    }
}
