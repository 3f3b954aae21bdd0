package io.fluxgate.web;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.Test;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;
import reactor.test.StepVerifier;

import org.springframework.http.HttpStatus;

import static org.assertj.core.api.Assertions.assertThat;

class BoundedWorkQueueTest {

    @Test
    void runsAtMostItsConcurrencyAndQueuesTheRest() throws Exception {
        BoundedWorkQueue queue = new BoundedWorkQueue("jobs", 1, 10, Duration.ofSeconds(30));
        Sinks.One<String> first = Sinks.one();
        CompletableFuture<String> running = queue.submit(first.asMono()).toFuture();
        AtomicInteger secondStarted = new AtomicInteger();
        CompletableFuture<String> waiting = queue.submit(Mono.fromSupplier(() -> {
            secondStarted.incrementAndGet();
            return "second";
        })).toFuture();
        assertThat(secondStarted).as("waits for the first").hasValue(0);
        assertThat(queue.queued()).isEqualTo(1);
        first.tryEmitValue("first");
        assertThat(running.get(5, TimeUnit.SECONDS)).isEqualTo("first");
        assertThat(waiting.get(5, TimeUnit.SECONDS)).isEqualTo("second");
        assertThat(queue.queued()).isZero();
        queue.dispose();
    }

    @Test
    void aFullQueueRefusesWith503AndRetryAfter() {
        BoundedWorkQueue queue = new BoundedWorkQueue("transfers", 1, 1, Duration.ofSeconds(30));
        queue.submit(Mono.never()).subscribe();
        queue.submit(Mono.just("waiting")).subscribe();
        StepVerifier.create(queue.submit(Mono.just("refused")))
                .expectErrorSatisfies(error -> {
                    assertThat(error).isInstanceOf(ApiException.class);
                    assertThat(((ApiException) error).status()).isEqualTo(HttpStatus.SERVICE_UNAVAILABLE);
                    assertThat(((ApiException) error).retryAfter()).isPositive();
                    assertThat(error.getMessage()).contains("transfers");
                })
                .verify(Duration.ofSeconds(5));
        queue.dispose();
    }

    @Test
    void aWaiterIsAnsweredWhenItsWaitRunsOutEvenIfNothingAheadMoves() {
        BoundedWorkQueue queue = new BoundedWorkQueue("jobs", 1, 10, Duration.ofMillis(200));
        queue.submit(Mono.never()).subscribe();
        AtomicInteger ran = new AtomicInteger();
        StepVerifier.create(queue.submit(Mono.fromRunnable(ran::incrementAndGet)))
                .expectError(ApiException.class)
                .verify(Duration.ofSeconds(10));
        assertThat(ran).hasValue(0);
        queue.dispose();
    }

    @Test
    void workThatWaitedTooLongIsRefusedInsteadOfStarted() {
        BoundedWorkQueue queue = new BoundedWorkQueue("jobs", 1, 10, Duration.ofMillis(50));
        Sinks.One<String> blocker = Sinks.one();
        queue.submit(blocker.asMono()).subscribe();
        AtomicInteger ran = new AtomicInteger();
        StepVerifier.create(queue.submit(Mono.fromRunnable(ran::incrementAndGet)))
                .then(() -> Mono.delay(Duration.ofMillis(200)).doOnNext(tick -> blocker.tryEmitValue("done")).subscribe())
                .expectError(ApiException.class)
                .verify(Duration.ofSeconds(5));
        assertThat(ran).hasValue(0);
        queue.dispose();
    }

    @Test
    void failuresReachTheirCallerAndTheQueueGoesOn() {
        BoundedWorkQueue queue = new BoundedWorkQueue("jobs", 1, 10, Duration.ofSeconds(30));
        StepVerifier.create(queue.submit(Mono.error(new IllegalStateException("boom"))))
                .expectErrorMessage("boom").verify(Duration.ofSeconds(5));
        StepVerifier.create(queue.submit(Mono.empty())).verifyComplete();
        StepVerifier.create(queue.submit(Mono.just(1))).expectNext(1).verifyComplete();
        queue.dispose();
    }
}
