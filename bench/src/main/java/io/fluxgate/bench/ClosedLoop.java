package io.fluxgate.bench;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * A closed-loop load: {@code connections} workers, each sending its next request as soon as the last
 * one answered. Latency is recorded for answers with the expected status after the warm-up; other
 * statuses and failures are counted.
 */
final class ClosedLoop {

    /**
     * @param latencies microseconds of the expected answers in the measured window
     * @param otherStatuses how often each other status came back
     * @param failures requests that got no answer at all
     */
    record Result(Histogram latencies, int seconds, Map<Integer, Long> otherStatuses, long failures) {

        double perSecond() {
            return latencies.getTotalCount() / (double) seconds;
        }

        double millis(double percentile) {
            return latencies.getValueAtPercentile(percentile) / 1000.0;
        }

        double maxMillis() {
            return latencies.getMaxValue() / 1000.0;
        }

        long count(int status) {
            return otherStatuses.getOrDefault(status, 0L);
        }

        /** Everything but the expected answers and {@code allowed}. */
        long errors(int... allowed) {
            long errors = failures;
            for (Map.Entry<Integer, Long> entry : otherStatuses.entrySet()) {
                if (java.util.Arrays.stream(allowed).noneMatch(status -> status == entry.getKey())) {
                    errors += entry.getValue();
                }
            }
            return errors;
        }
    }

    private ClosedLoop() {
    }

    /** Runs {@code request} (which answers the response status) until the measured window ends. */
    static Result run(int connections, int warmupSeconds, int seconds, int expectedStatus,
            Supplier<Mono<Integer>> request) throws InterruptedException {
        Recorder recorder = new Recorder(3);
        AtomicBoolean measuring = new AtomicBoolean(false);
        AtomicBoolean running = new AtomicBoolean(true);
        Map<Integer, Long> otherStatuses = new ConcurrentHashMap<>();
        AtomicLong failures = new AtomicLong();
        Flux<Void> load = Flux.range(0, connections).flatMap(worker -> Mono.defer(() -> {
                    long started = System.nanoTime();
                    return request.get()
                            .doOnNext(status -> {
                                if (status != expectedStatus) {
                                    otherStatuses.merge(status, 1L, Long::sum);
                                } else if (measuring.get()) {
                                    recorder.recordValue((System.nanoTime() - started) / 1000);
                                }
                            })
                            .onErrorResume(e -> {
                                failures.incrementAndGet();
                                return Mono.empty();
                            })
                            .then();
                }).repeat(running::get), connections);
        var subscription = load.subscribe();
        Thread.sleep(TimeUnit.SECONDS.toMillis(warmupSeconds));
        recorder.reset();
        measuring.set(true);
        Thread.sleep(TimeUnit.SECONDS.toMillis(seconds));
        measuring.set(false);
        Histogram histogram = recorder.getIntervalHistogram();
        running.set(false);
        // Lets the requests in flight finish, so whatever reads state afterwards sees it settled.
        Thread.sleep(2000);
        subscription.dispose();
        return new Result(histogram, seconds, Map.copyOf(otherStatuses), failures.get());
    }
}
