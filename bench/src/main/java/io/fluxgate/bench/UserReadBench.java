package io.fluxgate.bench;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import io.netty.handler.codec.http.HttpHeaderNames;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.netty.http.client.HttpClient;
import reactor.netty.resources.ConnectionProvider;
import reactor.netty.resources.LoopResources;

/**
 * {@code GET /api/users/{id}} at a fixed number of concurrent connections, each sending its next
 * request when the last one answered (closed loop): throughput and latency percentiles. Runs against
 * a service that is already up; see bench/run-cache.sh.
 */
public final class UserReadBench {

    public static void main(String[] args) throws Exception {
        Map<String, String> options = BenchClient.options(args);
        String base = options.getOrDefault("base-url", "http://localhost:8089");
        int connections = Integer.parseInt(options.getOrDefault("connections", "64"));
        int seconds = Integer.parseInt(options.getOrDefault("seconds", "15"));
        int warmup = Integer.parseInt(options.getOrDefault("warmup", "3"));
        String label = options.getOrDefault("label", "");

        BenchClient.User reader = BenchClient.signIn(base, "Reader", "reader-" + System.currentTimeMillis() + "@example.com");
        String bearer = reader.bearer();
        String path = "/api/users/" + reader.id();

        LoopResources loops = LoopResources.create("bench-http", 2, true);
        HttpClient client = HttpClient.create(ConnectionProvider.builder("bench").maxConnections(connections)
                        .pendingAcquireMaxCount(-1).build())
                .runOn(loops)
                .baseUrl(base)
                .headers(headers -> headers.set(HttpHeaderNames.AUTHORIZATION, bearer));

        Recorder recorder = new Recorder(3);
        AtomicBoolean measuring = new AtomicBoolean(false);
        AtomicBoolean running = new AtomicBoolean(true);
        AtomicLong errors = new AtomicLong();
        Flux<Void> load = Flux.range(0, connections).flatMap(worker -> Mono.defer(() -> {
                    long started = System.nanoTime();
                    return client.get().uri(path).responseSingle((response, body) -> body.asByteArray()
                                    .defaultIfEmpty(new byte[0])
                                    .doOnNext(bytes -> {
                                        if (response.status().code() != 200) {
                                            errors.incrementAndGet();
                                        } else if (measuring.get()) {
                                            recorder.recordValue((System.nanoTime() - started) / 1000);
                                        }
                                    }))
                            .onErrorResume(e -> {
                                errors.incrementAndGet();
                                return Mono.empty();
                            })
                            .then();
                }).repeat(running::get), connections);
        var subscription = load.subscribe();
        Thread.sleep(TimeUnit.SECONDS.toMillis(warmup));
        recorder.reset();
        measuring.set(true);
        Thread.sleep(TimeUnit.SECONDS.toMillis(seconds));
        measuring.set(false);
        Histogram histogram = recorder.getIntervalHistogram();
        running.set(false);
        Thread.sleep(500);
        subscription.dispose();
        System.out.printf("%-10s %-12d %-12.0f %-9.2f %-9.2f %-9.2f %-9.2f %-8d%n", label, connections,
                histogram.getTotalCount() / (double) seconds, histogram.getValueAtPercentile(50) / 1000.0,
                histogram.getValueAtPercentile(95) / 1000.0, histogram.getValueAtPercentile(99) / 1000.0,
                histogram.getMaxValue() / 1000.0, errors.get());
        loops.disposeLater().block(Duration.ofSeconds(5));
    }
}
