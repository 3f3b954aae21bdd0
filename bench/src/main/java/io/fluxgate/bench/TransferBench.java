package io.fluxgate.bench;

import java.math.BigDecimal;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import reactor.core.publisher.Mono;
import reactor.netty.ByteBufFlux;
import reactor.netty.http.client.HttpClient;
import reactor.netty.resources.ConnectionProvider;
import reactor.netty.resources.LoopResources;

/**
 * {@code POST /api/transfers} between random pairs of {@code --accounts} accounts, at a fixed number
 * of concurrent connections (closed loop). Few accounts means every transfer queues on the same row
 * locks; many means little contention. Afterwards it checks that the money added up. Runs against a
 * service that is already up whose bootstrap admin is {@code --admin} (password {@code bench-password-1});
 * see bench/run-transfers.sh. With {@code --burst=N} it sends N transfers at once instead (see {@link #burst}).
 */
public final class TransferBench {

    /**
     * {@code --burst=N}: N transfers sent at the same moment, each on its own connection, once; how
     * long until the last answer, and the answers by status.
     */
    private static String burst(int n, java.util.function.Supplier<Mono<Integer>> transfer) {
        long started = System.nanoTime();
        List<Long> millis = java.util.Collections.synchronizedList(new ArrayList<>());
        Map<Integer, Long> statuses = reactor.core.publisher.Flux.range(0, n)
                .flatMap(i -> {
                    long sent = System.nanoTime();
                    return transfer.get().doOnNext(status -> millis.add((System.nanoTime() - sent) / 1_000_000));
                }, n)
                .collect(java.util.stream.Collectors.groupingBy(status -> status, java.util.TreeMap::new,
                        java.util.stream.Collectors.counting()))
                .block(Duration.ofMinutes(5));
        List<Long> sorted = millis.stream().sorted().toList();
        return String.format("%-7d %-10d %-9d %-9d %-24s", n, (System.nanoTime() - started) / 1_000_000,
                sorted.get(sorted.size() / 2), sorted.get(Math.min(sorted.size() - 1, sorted.size() * 99 / 100)), statuses);
    }

    private static final BigDecimal OPENING = new BigDecimal("1000000.00");

    public static void main(String[] args) throws Exception {
        Map<String, String> options = BenchClient.options(args);
        String base = options.getOrDefault("base-url", "http://localhost:8089");
        int connections = Integer.parseInt(options.getOrDefault("connections", "64"));
        int accounts = Integer.parseInt(options.getOrDefault("accounts", "8"));
        int seconds = Integer.parseInt(options.getOrDefault("seconds", "15"));
        int warmup = Integer.parseInt(options.getOrDefault("warmup", "3"));
        String admin = options.getOrDefault("admin", "bench-admin@example.com");

        String run = Long.toString(System.currentTimeMillis(), 36);
        BenchClient.User banker = BenchClient.signIn(base, "Banker", admin);
        List<BenchClient.User> users = new ArrayList<>();
        for (int i = 0; i < accounts; i++) {
            BenchClient.User user = BenchClient.signIn(base, "Payer " + i, "payer-" + run + "-" + i + "@example.com");
            BenchClient.send(base + "/api/accounts", user.bearer(), null);
            BenchClient.send(base + "/api/accounts/" + user.id() + "/deposit", banker.bearer(),
                    "{\"amount\":\"" + OPENING.toPlainString() + "\"}");
            users.add(user);
        }

        LoopResources loops = LoopResources.create("bench-http", 2, true);
        HttpClient client = HttpClient.create(ConnectionProvider.builder("bench").maxConnections(connections)
                        .pendingAcquireMaxCount(-1).build())
                .runOn(loops)
                .baseUrl(base)
                .headers(headers -> headers.set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON));

        java.util.function.Supplier<Mono<Integer>> transfer = () -> {
            ThreadLocalRandom random = ThreadLocalRandom.current();
            int from = random.nextInt(accounts);
            int to = (from + 1 + random.nextInt(accounts - 1)) % accounts;
            String body = "{\"toUserId\":" + users.get(to).id() + ",\"amount\":\"0.01\"}";
            return client.headers(headers -> headers.set(HttpHeaderNames.AUTHORIZATION, users.get(from).bearer()))
                    .post().uri("/api/transfers").send(ByteBufFlux.fromString(Mono.just(body)))
                    .responseSingle((response, content) -> content.asByteArray().defaultIfEmpty(new byte[0])
                            .map(bytes -> response.status().code()));
        };
        String burst = options.get("burst");
        ClosedLoop.Result result = burst == null ? ClosedLoop.run(connections, warmup, seconds, 201, transfer) : null;
        String burstLine = burst == null ? null : burst(Integer.parseInt(burst), transfer);
        loops.disposeLater().block(Duration.ofSeconds(5));

        BigDecimal total = BigDecimal.ZERO;
        Pattern balance = Pattern.compile("\"balance\"\\s*:\\s*\"([0-9.]+)\"");
        for (BenchClient.User user : users) {
            Matcher matcher = balance.matcher(BenchClient.get(base + "/api/accounts/me", user.bearer()));
            if (!matcher.find()) {
                throw new IllegalStateException("no balance for user " + user.id());
            }
            total = total.add(new BigDecimal(matcher.group(1)));
        }
        boolean conserved = total.compareTo(OPENING.multiply(BigDecimal.valueOf(accounts))) == 0;
        if (burstLine != null) {
            System.out.printf("%-9d %s %s%n", accounts, burstLine, conserved ? "yes" : "NO (" + total + ")");
            return;
        }
        System.out.printf("%-9d %-12d %-12.0f %-9.2f %-9.2f %-9.2f %-9.2f %-9d %-7d %s%n", accounts, connections,
                result.perSecond(), result.millis(50), result.millis(95), result.millis(99), result.maxMillis(),
                result.count(422), result.errors(422), conserved ? "yes" : "NO (" + total + ")");
    }
}
