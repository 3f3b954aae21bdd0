package io.fluxgate.bench;

import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

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
        Map<String, String> options = new LinkedHashMap<>();
        for (String arg : args) {
            if (arg.startsWith("--") && arg.contains("=")) {
                options.put(arg.substring(2, arg.indexOf('=')), arg.substring(arg.indexOf('=') + 1));
            }
        }
        String base = options.getOrDefault("base-url", "http://localhost:8089");
        int connections = Integer.parseInt(options.getOrDefault("connections", "64"));
        int seconds = Integer.parseInt(options.getOrDefault("seconds", "15"));
        int warmup = Integer.parseInt(options.getOrDefault("warmup", "3"));
        String label = options.getOrDefault("label", "");

        String email = "reader-" + System.currentTimeMillis() + "@example.com";
        post(base + "/api/auth/register", "{\"name\":\"Reader\",\"email\":\"" + email + "\",\"password\":\"bench-password-1\"}");
        String login = post(base + "/api/auth/login", "{\"email\":\"" + email + "\",\"password\":\"bench-password-1\"}");
        Matcher token = Pattern.compile("\"token\"\\s*:\\s*\"([^\"]+)\"").matcher(login);
        Matcher id = Pattern.compile("\"id\"\\s*:\\s*(\\d+)").matcher(login);
        if (!token.find() || !id.find()) {
            throw new IllegalStateException("login failed: " + login);
        }
        String bearer = "Bearer " + token.group(1);
        String path = "/api/users/" + id.group(1);

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

    private static String post(String url, String json) throws Exception {
        HttpRequest request = HttpRequest.newBuilder(URI.create(url)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(json)).build();
        return java.net.http.HttpClient.newHttpClient().send(request, HttpResponse.BodyHandlers.ofString()).body();
    }
}
