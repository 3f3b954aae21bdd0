package io.fluxgate.changes.delivery;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;

import org.junit.jupiter.api.Test;
import org.reactivestreams.Publisher;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Sinks;
import reactor.test.StepVerifier;
import reactor.test.publisher.TestPublisher;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The serial step on its own: inputs from three sources, handled one at a time, frames passed on at
 * the subscriber's pace, and every way it ends.
 */
class SerialStepTest {

    private static final Duration WAIT = Duration.ofSeconds(5);
    private static final Outbound.Close CLOSE = new Outbound.Close(4001, "token expired");

    private final TestPublisher<ClientMessage> messages = TestPublisher.create();
    private final TestPublisher<SessionInput> events = TestPublisher.create();
    private final TestPublisher<SessionInput> live = TestPublisher.create();
    /** What a handling of an {@code Invalid("slow:<n>")} message emits, by the tests' hand. */
    private final Map<String, Sinks.Many<Outbound>> slow = new ConcurrentHashMap<>();
    private final AtomicInteger ended = new AtomicInteger();

    private static Outbound.Frame frame(String text) {
        return new Outbound.Frame("test", text.getBytes(StandardCharsets.UTF_8), null, null);
    }

    private static String text(Outbound out) {
        return out instanceof Outbound.Frame frame ? new String(frame.json(), StandardCharsets.UTF_8)
                : "close " + ((Outbound.Close) out).code();
    }

    /** "a" -> one frame "a"; "none" -> nothing; "two:x" -> "x1", "x2"; "slow:k" -> what the test emits; "close" -> a close. */
    private Publisher<Outbound> handle(SessionInput input) {
        String name = input instanceof ClientMessage.Invalid invalid ? invalid.error()
                : input instanceof SessionInput.LiveDropped dropped ? dropped.channel() : "?";
        if (name.equals("none")) {
            return Flux.empty();
        }
        if (name.equals("close")) {
            return Flux.just(frame("bye"), CLOSE);
        }
        if (name.equals("boom")) {
            throw new IllegalStateException("boom");
        }
        if (name.startsWith("two:")) {
            String x = name.substring(4);
            return Flux.just(frame(x + "1"), frame(x + "2"));
        }
        if (name.startsWith("slow:")) {
            Sinks.Many<Outbound> sink = Sinks.many().unicast().onBackpressureBuffer();
            slow.put(name.substring(5), sink);
            return sink.asFlux();
        }
        return Flux.just(frame(name));
    }

    private SerialStep step() {
        return step(this::handle);
    }

    private SerialStep step(Function<SessionInput, Publisher<Outbound>> handler) {
        return new SerialStep(List.of(new SerialStep.Source(messages, 1), new SerialStep.Source(events, 4),
                new SerialStep.Source(live, 4)), handler, ended::incrementAndGet);
    }

    private static ClientMessage message(String name) {
        return new ClientMessage.Invalid(name);
    }

    private static SessionInput event(String name) {
        return new SessionInput.LiveDropped(name);
    }

    @Test
    void inputsAreHandledOneAtATimeAndEachHandlingsFramesLeaveBeforeTheNextOnes() {
        SerialStep step = step();
        StepVerifier.create(Flux.from(step).map(SerialStepTest::text))
                .then(() -> {
                    messages.next(message("slow:a"));
                    events.next(event("e1"));
                    live.next(event("two:l"));
                    assertThat(step.idle()).isFalse();
                })
                .then(() -> slow.get("a").tryEmitNext(frame("a1")))
                .expectNext("a1")
                .then(() -> {
                    // Taken in while "a" runs: they wait for it.
                    messages.next(message("b"));
                    slow.get("a").tryEmitNext(frame("a2"));
                    slow.get("a").tryEmitComplete();
                })
                .expectNext("a2", "e1", "l1", "l2", "b")
                .then(() -> assertThat(step.idle()).isTrue())
                .thenCancel()
                .verify(WAIT);
        assertThat(ended).hasValue(1);
        messages.assertCancelled();
        events.assertCancelled();
        live.assertCancelled();
    }

    @Test
    void framesLeaveOnlyAsTheSubscriberAsksAndSourcesHandOverOnlyWhatMayWait() {
        SerialStep step = step();
        StepVerifier.create(Flux.from(step).map(SerialStepTest::text), 0)
                .then(() -> {
                    events.next(event("two:x"), event("y"), event("z"), event("w"));
                    // Four may wait from this source (its prefetch); the first is being handled (its
                    // frames wait for demand), so one more may come, and then none.
                    events.assertMaxRequested(1);
                    events.next(event("v"));
                    events.assertMaxRequested(0);
                })
                .expectNoEvent(Duration.ofMillis(50))
                .thenRequest(1)
                .expectNext("x1")
                // "two:x" still has a frame to pass on: nothing more may come.
                .then(() -> events.assertMaxRequested(0))
                .thenRequest(2)
                // "two:x" is done and "y" taken: two more may come.
                .expectNext("x2", "y")
                .then(() -> events.assertMinRequested(2))
                .then(() -> assertThat(step.idle()).isFalse())
                .thenRequest(10)
                .expectNext("z", "w", "v")
                .then(() -> assertThat(step.idle()).isTrue())
                .thenCancel()
                .verify(WAIT);
    }

    @Test
    void anEndCutsShortWhatRunsAndClosesOnceAsked() {
        SerialStep step = step();
        StepVerifier.create(Flux.from(step).map(SerialStepTest::text), 1)
                .then(() -> messages.next(message("slow:s")))
                .then(() -> slow.get("s").tryEmitNext(frame("s1")))
                .expectNext("s1")
                .then(() -> {
                    events.next(event("waiting"));
                    step.end(CLOSE);
                    // No demand yet: the close waits for it, and nothing else leaves meanwhile.
                    assertThat(slow.get("s").currentSubscriberCount()).isZero();
                })
                .expectNoEvent(Duration.ofMillis(50))
                .thenRequest(1)
                .expectNext("close 4001")
                .expectComplete()
                .verify(WAIT);
        messages.assertCancelled();
        events.assertCancelled();
        live.assertCancelled();
        assertThat(ended).hasValue(1);
    }

    @Test
    void anEndBeforeItRunsClosesAtOnce() {
        SerialStep step = step();
        step.end(CLOSE);
        StepVerifier.create(Flux.from(step).map(SerialStepTest::text))
                .expectNext("close 4001")
                .expectComplete()
                .verify(WAIT);
        assertThat(ended).hasValue(1);
    }

    @Test
    void theClientsMessagesEndingEndsItWithoutAClose() {
        StepVerifier.create(Flux.from(step()).map(SerialStepTest::text))
                .then(() -> {
                    messages.next(message("last"));
                    messages.complete();
                })
                .expectNext("last")
                .expectComplete()
                .verify(WAIT);
        events.assertCancelled();
        live.assertCancelled();
        assertThat(ended).hasValue(1);
    }

    @Test
    void aHandlingThatClosesEndsItAfterItsFrames() {
        StepVerifier.create(Flux.from(step()).map(SerialStepTest::text))
                .then(() -> messages.next(message("close"), message("never")))
                .expectNext("bye", "close 4001")
                .expectComplete()
                .verify(WAIT);
        messages.assertCancelled();
        assertThat(ended).hasValue(1);
    }

    @Test
    void aCloseFromAHandlingWaitsForDemandAndTheStepIsNotIdleMeanwhile() {
        SerialStep step = step();
        StepVerifier.create(Flux.from(step).map(SerialStepTest::text), 1)
                .then(() -> messages.next(message("close")))
                .expectNext("bye")
                // Its input is taken (the queue is empty) but its close is not passed on yet.
                .then(() -> assertThat(step.idle()).isFalse())
                .expectNoEvent(Duration.ofMillis(50))
                .thenRequest(1)
                .expectNext("close 4001")
                .expectComplete()
                .verify(WAIT);
    }

    @Test
    void anErrorAfterAnEndDoesNotReplaceTheClose() {
        SerialStep step = step();
        StepVerifier.create(Flux.from(step).map(SerialStepTest::text), 0)
                .then(() -> {
                    step.end(CLOSE);
                    // A source failing as it is cancelled (some drivers do) while the close waits.
                    events.error(new IllegalStateException("cancelled read"));
                })
                .thenRequest(1)
                .expectNext("close 4001")
                .expectComplete()
                .verify(WAIT);
        assertThat(ended).hasValue(1);
    }

    @Test
    void aHandlerThatThrowsFailsIt() {
        StepVerifier.create(Flux.from(step()).map(SerialStepTest::text))
                .then(() -> events.next(event("boom")))
                .expectErrorMessage("boom")
                .verify(WAIT);
        messages.assertCancelled();
        assertThat(ended).hasValue(1);
    }

    @Test
    void aSourceThatFailsFailsIt() {
        StepVerifier.create(Flux.from(step()).map(SerialStepTest::text))
                .then(() -> messages.error(new IllegalStateException("socket failed")))
                .expectErrorMessage("socket failed")
                .verify(WAIT);
        events.assertCancelled();
        assertThat(ended).hasValue(1);
    }

    /**
     * Three sources emitting from their own threads, handlings that finish on other threads, and a
     * subscriber asking in small amounts from yet another: every input is handled once, each source's
     * inputs in their order, and each handling's frames together.
     */
    @Test
    void underConcurrentSourcesEveryInputIsHandledOnceInEachSourcesOrder() throws Exception {
        int perSource = 5_000;
        List<Sinks.Many<SessionInput>> sinks = List.of(Sinks.many().unicast().onBackpressureBuffer(),
                Sinks.many().unicast().onBackpressureBuffer(), Sinks.many().unicast().onBackpressureBuffer());
        SerialStep step = new SerialStep(List.of(new SerialStep.Source(sinks.get(0).asFlux(), 1),
                new SerialStep.Source(sinks.get(1).asFlux(), 32), new SerialStep.Source(sinks.get(2).asFlux(), 32)),
                input -> {
                    String name = ((SessionInput.LiveDropped) input).channel();
                    Flux<Outbound> out = Flux.just(frame(name + "/a"), frame(name + "/b"));
                    // One in five finishes on another thread, as a log read does.
                    return name.hashCode() % 5 == 0 ? out.publishOn(reactor.core.scheduler.Schedulers.parallel()) : out;
                }, ended::incrementAndGet);
        List<String> received = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
        java.util.concurrent.CountDownLatch all = new java.util.concurrent.CountDownLatch(3 * perSource * 2);
        reactor.core.publisher.BaseSubscriber<Outbound> reader = new reactor.core.publisher.BaseSubscriber<>() {
            @Override
            protected void hookOnSubscribe(org.reactivestreams.Subscription subscription) {
            }

            @Override
            protected void hookOnNext(Outbound out) {
                received.add(text(out));
                all.countDown();
            }
        };
        step.subscribe(reader);
        java.util.concurrent.atomic.AtomicBoolean running = new java.util.concurrent.atomic.AtomicBoolean(true);
        List<Thread> threads = new java.util.ArrayList<>();
        threads.add(new Thread(() -> {
            while (running.get() && all.getCount() > 0) {
                reader.request(3);
                Thread.onSpinWait();
            }
        }));
        for (int s = 0; s < 3; s++) {
            int source = s;
            threads.add(new Thread(() -> {
                for (int i = 0; i < perSource && running.get(); i++) {
                    while (running.get() && sinks.get(source).tryEmitNext(event(source + ":" + i)).isFailure()) {
                        Thread.onSpinWait();
                    }
                }
            }));
        }
        try {
            threads.forEach(thread -> {
                thread.setDaemon(true);
                thread.start();
            });
            assertThat(all.await(30, java.util.concurrent.TimeUnit.SECONDS)).as("every frame arrived").isTrue();
        } finally {
            running.set(false);
            for (Thread thread : threads) {
                thread.join(5_000);
            }
        }
        assertThat(received).hasSize(3 * perSource * 2).doesNotHaveDuplicates();
        int[] next = new int[3];
        for (int i = 0; i < received.size(); i += 2) {
            String a = received.get(i);
            String input = a.substring(0, a.length() - 2);
            assertThat(a).endsWith("/a");
            assertThat(received.get(i + 1)).as("a handling's frames leave together").isEqualTo(input + "/b");
            int source = input.charAt(0) - '0';
            assertThat(Integer.parseInt(input.substring(2))).as("source %d in order", source).isEqualTo(next[source]++);
        }
        assertThat(step.idle()).isTrue();
        reader.cancel();
        assertThat(ended).hasValue(1);
    }

    @Test
    void itRunsOnce() {
        SerialStep step = step();
        Flux.from(step).subscribe();
        StepVerifier.create(step).expectError(IllegalStateException.class).verify(WAIT);
    }
}
