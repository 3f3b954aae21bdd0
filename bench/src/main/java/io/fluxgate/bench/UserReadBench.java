package io.fluxgate.bench;

import java.time.Duration;
import java.util.Map;

import io.netty.handler.codec.http.HttpHeaderNames;
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

        ClosedLoop.Result result = ClosedLoop.run(connections, warmup, seconds, 200, () -> client.get().uri(path)
                .responseSingle((response, body) -> body.asByteArray().defaultIfEmpty(new byte[0])
                        .map(bytes -> response.status().code())));
        System.out.printf("%-10s %-12d %-12.0f %-9.2f %-9.2f %-9.2f %-9.2f %-8d%n", label, connections,
                result.perSecond(), result.millis(50), result.millis(95), result.millis(99), result.maxMillis(),
                result.errors());
        loops.disposeLater().block(Duration.ofSeconds(5));
    }
}
