package io.fluxgate.bench;

import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;
import reactor.core.Disposable;
import reactor.core.publisher.Mono;
import reactor.netty.http.client.HttpClient;
import reactor.netty.http.client.WebsocketClientSpec;
import reactor.netty.resources.ConnectionProvider;
import reactor.netty.resources.LoopResources;

/**
 * Change-stream load: N WebSocket subscribers on {@code post_changes}, posts inserted at a fixed rate
 * by concurrent JDBC writers (one row per transaction), commit-to-frame latency from each frame's
 * {@code committedAt} (read without a JSON parse), delivered frames per second, and the server's heap
 * per idle subscriber. Runs against a service that is already up; see bench/run-changes.sh. With
 * {@code --raw-url} it drives {@link RawBroadcaster} instead (bench/run-broadcaster.sh).
 */
public final class ChangeStreamBench {

    private static final String SUBSCRIBE = "{\"type\":\"subscribe\",\"channel\":\"post_changes\"}";

    /**
     * {@code --filters=distinct}: subscriber i subscribes with its own filter, an {@code in} on
     * {@code authorId} holding the author's id and a value only it names, so every change still
     * reaches every subscriber but through a thousand different filters (indexed by the hub, tested
     * by each session). Without it, a plain subscribe.
     */
    private static String subscribe(String filters, long authorId, int subscriber) {
        if (!"distinct".equals(filters)) {
            return SUBSCRIBE;
        }
        return "{\"type\":\"subscribe\",\"channel\":\"post_changes\",\"filter\":{\"authorId\":{\"in\":["
                + authorId + "," + (1_000_000_000L + subscriber) + "]}}}";
    }
    private static final Pattern FIELD = Pattern.compile("\"(token|id)\"\\s*:\\s*\"?([^\",}]+)");

    public static void main(String[] args) throws Exception {
        Map<String, String> options = parse(args);
        String base = options.getOrDefault("base-url", "http://localhost:8080");
        String jdbc = options.getOrDefault("jdbc", "jdbc:postgresql://127.0.0.1:5432/fluxgate_bench");
        String dbUser = options.getOrDefault("db-user", "postgres");
        String dbPassword = options.getOrDefault("db-password", "");
        int seconds = Integer.parseInt(options.getOrDefault("seconds", "15"));
        int warmup = Integer.parseInt(options.getOrDefault("warmup", "3"));
        int writers = Integer.parseInt(options.getOrDefault("writers", "8"));
        List<Integer> subscriberCounts = ints(options.getOrDefault("subscribers", "100,1000,5000"));
        List<Integer> rates = ints(options.getOrDefault("rates", "100,1000,5000"));

        // --raw-url: the same subscribers and measurements against RawBroadcaster, the fan-out ceiling.
        String raw = options.get("raw-url");
        // Subscribers sign in as one user; the rows are written by another, so the changes reach them
        // through their subscription (and its filter), not as related to them.
        Credentials user = raw == null ? registerAndLogin(base) : null;
        Credentials author = raw == null ? registerAndLogin(base) : null;
        String filters = options.getOrDefault("filters", "none");
        LoopResources loops = LoopResources.create("bench-ws", 2, true);
        HttpClient ws = HttpClient.create(ConnectionProvider.newConnection()).runOn(loops);
        if (user != null) {
            ws = ws.headers(headers -> headers.add("Authorization", "Bearer " + user.token()));
        }
        String wsUrl = (raw == null ? base : raw).replaceFirst("^http", "ws") + "/ws/changes";

        System.out.printf("%-12s %-8s %-12s %-14s %-14s %-9s %-9s %-9s %-9s %-8s %-8s%n", "subscribers", "rate/s",
                "committed/s", "expected f/s", "delivered f/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "missed",
                "cpu µs/f");
        for (int subscribers : subscriberCounts) {
            long heapBefore = raw == null ? heapAfterGc(base, options) : -1;
            Subscribers clients = Subscribers.open(ws, wsUrl, subscribers,
                    i -> subscribe(filters, author == null ? 0 : author.id(), i));
            long heapAfter = raw == null ? heapAfterGc(base, options) : -1;
            if (heapBefore > 0 && heapAfter > 0) {
                System.out.printf("# heap per idle subscriber at %d: %.1f KiB (%.1f MiB -> %.1f MiB)%n", subscribers,
                        (heapAfter - heapBefore) / 1024.0 / subscribers, heapBefore / 1048576.0, heapAfter / 1048576.0);
            }
            for (int rate : rates) {
                Result result = raw == null
                        ? run(clients, jdbc, dbUser, dbPassword, author.id(), rate, writers, warmup, seconds,
                                options.get("server-pid"))
                        : runRaw(clients, raw, rate, warmup, seconds, options.get("server-pid"));
                System.out.printf("%-12d %-8d %-12.0f %-14.0f %-14.0f %-9.1f %-9.1f %-9.1f %-9.1f %-8d %-8.2f%n",
                        subscribers, rate, result.committedPerSecond(), result.committedPerSecond() * subscribers,
                        result.deliveredPerSecond(), result.ms(50), result.ms(95), result.ms(99),
                        result.histogram().getMaxValue() / 1000.0, result.missed(), result.cpuMicrosPerFrame());
            }
            clients.close();
            Thread.sleep(2000);
        }
        // The results are out: a loop that does not shut down cleanly is reported, not thrown.
        try {
            loops.disposeLater().block(Duration.ofSeconds(10));
        } catch (RuntimeException failure) {
            System.out.println("# the harness's event loops did not shut down cleanly: " + failure);
        }
    }

    /** @param cpuMicrosPerFrame the server's CPU time (user and system) per frame delivered in the window; -1 unknown */
    record Result(Histogram histogram, double committedPerSecond, double deliveredPerSecond, long missed,
            double cpuMicrosPerFrame) {
        double ms(double percentile) {
            return histogram.getValueAtPercentile(percentile) / 1000.0;
        }
    }

    private static Result run(Subscribers clients, String jdbc, String user, String password, long authorId, int rate,
            int writers, int warmup, int seconds, String pid) throws Exception {
        AtomicBoolean writing = new AtomicBoolean(true);
        AtomicLong committed = new AtomicLong();
        AtomicBoolean measuring = new AtomicBoolean(false);
        List<Thread> threads = new ArrayList<>();
        long intervalNanos = TimeUnit.SECONDS.toNanos(1) * writers / rate;
        // The writers take turns: writer w's slots are offset by w / writers of an interval from a common
        // start (after their connections are open), so commits arrive evenly spaced at the rate asked
        // for, as the raw broadcaster emits, not in bursts of one per writer.
        long start = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(500);
        for (int w = 0; w < writers; w++) {
            long first = start + intervalNanos * w / writers;
            Thread writer = new Thread(() -> write(jdbc, user, password, authorId, first, intervalNanos, writing,
                    measuring, committed), "writer-" + w);
            writer.start();
            threads.add(writer);
        }
        Thread.sleep(TimeUnit.SECONDS.toMillis(warmup));
        clients.reset();
        measuring.set(true);
        long cpuBefore = serverCpuMicros(pid);
        Thread.sleep(TimeUnit.SECONDS.toMillis(seconds));
        long cpuUsed = serverCpuMicros(pid) - cpuBefore;
        measuring.set(false);
        writing.set(false);
        for (Thread thread : threads) {
            thread.join();
        }
        // Let frames of rows committed inside the window arrive.
        Thread.sleep(2000);
        Histogram histogram = clients.latencies();
        long expected = committed.get() * clients.count();
        long delivered = histogram.getTotalCount();
        return new Result(histogram, (double) committed.get() / seconds, (double) delivered / seconds,
                Math.max(0, expected - delivered), perFrame(cpuUsed, pid, delivered));
    }

    /** The same window against RawBroadcaster: it emits the changes itself and counts the measured ones. */
    private static Result runRaw(Subscribers clients, String raw, int rate, int warmup, int seconds, String pid)
            throws Exception {
        get(raw + "/emit?rate=" + rate);
        Thread.sleep(TimeUnit.SECONDS.toMillis(warmup));
        clients.reset();
        get(raw + "/emit?measure=true");
        long cpuBefore = serverCpuMicros(pid);
        Thread.sleep(TimeUnit.SECONDS.toMillis(seconds));
        long cpuUsed = serverCpuMicros(pid) - cpuBefore;
        long sent = Long.parseLong(get(raw + "/emit?rate=0").strip());
        Thread.sleep(2000);
        Histogram histogram = clients.latencies();
        long expected = sent * clients.count();
        long delivered = histogram.getTotalCount();
        return new Result(histogram, (double) sent / seconds, (double) delivered / seconds,
                Math.max(0, expected - delivered), perFrame(cpuUsed, pid, delivered));
    }

    private static void write(String jdbc, String user, String password, long authorId, long first,
            long intervalNanos, AtomicBoolean writing, AtomicBoolean measuring, AtomicLong committed) {
        try (Connection connection = DriverManager.getConnection(jdbc, user, password);
                PreparedStatement insert = connection.prepareStatement(
                        "INSERT INTO posts (author_id, title, body) VALUES (?, ?, 'bench body')")) {
            insert.setLong(1, authorId);
            long next = first;
            waitUntil(next);
            while (writing.get()) {
                boolean counted = measuring.get();
                insert.setString(2, counted ? "measured" : "warmup");
                insert.executeUpdate();
                if (counted) {
                    committed.incrementAndGet();
                }
                next += intervalNanos;
                waitUntil(next);
            }
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /** Parks until {@code deadline} (System.nanoTime); a park may return early. */
    private static void waitUntil(long deadline) {
        for (long wait = deadline - System.nanoTime(); wait > 0; wait = deadline - System.nanoTime()) {
            LockSupport.parkNanos(wait);
        }
    }

    /** Upgrades the harness keeps under way at once while it opens its subscribers. */
    private static final int OPENING_AT_ONCE = 200;

    /** The subscribers, reading every frame on two event-loop threads. */
    static final class Subscribers {

        private final List<Disposable> connections;
        private final Recorder recorder = new Recorder(3);
        private final int count;

        private Subscribers(int count) {
            this.count = count;
            this.connections = new ArrayList<>(count);
        }

        static Subscribers open(HttpClient client, String url, int count,
                java.util.function.IntFunction<String> subscribe) throws InterruptedException {
            Subscribers subscribers = new Subscribers(count);
            CountDownLatch acked = new CountDownLatch(count);
            // At most this many upgrades under way at once: a burst of thousands outruns a small
            // server's accept queue and its request-header clock, and the harness would measure that.
            java.util.concurrent.Semaphore opening = new java.util.concurrent.Semaphore(OPENING_AT_ONCE);
            for (int i = 0; i < count; i++) {
                String message = subscribe.apply(i);
                if (!opening.tryAcquire(60, TimeUnit.SECONDS)) {
                    break;
                }
                java.util.concurrent.atomic.AtomicBoolean opened = new java.util.concurrent.atomic.AtomicBoolean();
                Runnable done = () -> {
                    if (opened.compareAndSet(false, true)) {
                        opening.release();
                    }
                };
                subscribers.connections.add(client
                        .websocket(WebsocketClientSpec.builder().maxFramePayloadLength(1 << 20).build())
                        .uri(url)
                        .handle((in, out) -> out.sendString(Mono.just(message))
                                .then()
                                .thenMany(in.receiveFrames()
                                        .doOnNext(frame -> {
                                            if (subscribers.onFrame(frame, acked)) {
                                                done.run();
                                            }
                                        })))
                        .subscribe(null, error -> {
                            done.run();
                            System.err.println("subscriber failed: " + error);
                        }));
            }
            if (!acked.await(120, TimeUnit.SECONDS)) {
                throw new IllegalStateException("only " + (count - acked.getCount()) + " of " + count + " subscribed");
            }
            return subscribers;
        }

        /** Takes one frame; true when it was the subscription's acknowledgement. */
        private boolean onFrame(io.netty.handler.codec.http.websocketx.WebSocketFrame frame, CountDownLatch acked) {
            if (!(frame instanceof TextWebSocketFrame text)) {
                return false;
            }
            ByteBuf content = text.content();
            int length = content.readableBytes();
            // committedAt is the frame's last field: read only the tail, no JSON parse.
            int tail = Math.min(length, 48);
            String end = content.toString(content.readerIndex() + length - tail, tail, StandardCharsets.US_ASCII);
            int at = end.indexOf("\"committedAt\":\"");
            if (at < 0) {
                // The ack's type is its first field; what follows it (channel, cursor) varies.
                if (content.toString(content.readerIndex(), Math.min(length, 32), StandardCharsets.US_ASCII)
                        .contains("\"subscribed\"")) {
                    acked.countDown();
                    return true;
                }
                return false;
            }
            String timestamp = end.substring(at + 15, end.lastIndexOf('"'));
            Instant committed = Instant.parse(timestamp);
            long micros = Duration.between(committed, Instant.now()).toNanos() / 1000;
            if (isMeasured(content)) {
                recorder.recordValue(Math.max(0, micros));
            }
            return false;
        }

        /**
         * Only rows written inside the measuring window count: their title is "measured", which sits in
         * the frame's first bytes (jsonb orders short keys first).
         */
        private static boolean isMeasured(ByteBuf content) {
            int length = Math.min(content.readableBytes(), 200);
            return content.toString(content.readerIndex(), length, StandardCharsets.US_ASCII)
                    .contains("\"title\":\"measured\"");
        }

        void reset() {
            recorder.reset();
        }

        Histogram latencies() {
            return recorder.getIntervalHistogram();
        }

        int count() {
            return count;
        }

        void close() {
            connections.forEach(Disposable::dispose);
        }
    }

    /**
     * The server's CPU time so far (user and system, all threads), from /proc; -1 without its pid. A
     * cost per frame that a busy or noisy machine moves far less than it moves latency.
     */
    private static long serverCpuMicros(String pid) {
        if (pid == null) {
            return -1;
        }
        try {
            String stat = java.nio.file.Files.readString(java.nio.file.Path.of("/proc", pid, "stat"));
            String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            // utime and stime are fields 14 and 15 of the line, 12 and 13 after the command's ")".
            long ticks = Long.parseLong(fields[11]) + Long.parseLong(fields[12]);
            return ticks * 1_000_000L / CLOCK_TICKS;
        } catch (java.io.IOException | RuntimeException unreadable) {
            return -1;
        }
    }

    /** Clock ticks per second of /proc's times (USER_HZ; 100 on Linux everywhere this runs). */
    private static final long CLOCK_TICKS = 100;

    private static double perFrame(long cpuMicros, String pid, long frames) {
        return pid == null || cpuMicros < 0 || frames == 0 ? -1 : (double) cpuMicros / frames;
    }

    /** Server heap after a full GC, from the Prometheus endpoint; needs the server's pid for jcmd. */
    private static long heapAfterGc(String base, Map<String, String> options) throws Exception {
        String pid = options.get("server-pid");
        if (pid == null) {
            return -1;
        }
        new ProcessBuilder("jcmd", pid, "GC.run").inheritIO().redirectOutput(ProcessBuilder.Redirect.DISCARD).start()
                .waitFor();
        Thread.sleep(500);
        double heap = 0;
        for (String line : get(base + "/actuator/prometheus").split("\n")) {
            if (line.startsWith("jvm_memory_used_bytes{area=\"heap\"")) {
                heap += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            }
        }
        return (long) heap;
    }

    record Credentials(String token, long id) {
    }

    private static Credentials registerAndLogin(String base) throws Exception {
        String email = "bench-" + System.nanoTime() + "@example.com";
        String password = "bench-password-1";
        post(base + "/api/auth/register",
                "{\"name\":\"Bench\",\"email\":\"" + email + "\",\"password\":\"" + password + "\"}");
        String login = post(base + "/api/auth/login", "{\"email\":\"" + email + "\",\"password\":\"" + password + "\"}");
        String token = null;
        Long id = null;
        Matcher field = FIELD.matcher(login);
        while (field.find()) {
            if (field.group(1).equals("token") && token == null) {
                token = field.group(2);
            } else if (field.group(1).equals("id") && id == null) {
                id = Long.parseLong(field.group(2));
            }
        }
        return new Credentials(token, id);
    }

    private static String post(String url, String json) throws Exception {
        HttpRequest request = HttpRequest.newBuilder(URI.create(url)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(json)).build();
        return java.net.http.HttpClient.newHttpClient().send(request, HttpResponse.BodyHandlers.ofString()).body();
    }

    private static String get(String url) throws Exception {
        return java.net.http.HttpClient.newHttpClient()
                .send(HttpRequest.newBuilder(URI.create(url)).build(), HttpResponse.BodyHandlers.ofString()).body();
    }

    private static Map<String, String> parse(String[] args) {
        Map<String, String> options = new LinkedHashMap<>();
        for (String arg : args) {
            if (arg.startsWith("--") && arg.contains("=")) {
                options.put(arg.substring(2, arg.indexOf('=')), arg.substring(arg.indexOf('=') + 1));
            }
        }
        return options;
    }

    private static List<Integer> ints(String csv) {
        return java.util.Arrays.stream(csv.split(",")).map(String::strip).map(Integer::parseInt).toList();
    }
}
