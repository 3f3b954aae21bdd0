package io.fluxgate.bench;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import reactor.core.publisher.Mono;
import reactor.netty.DisposableServer;
import reactor.netty.http.server.HttpServer;

/**
 * The fan-out ceiling of this machine for the change-stream bench: a bare Reactor Netty WebSocket
 * server with no database, authentication, filtering or per-session state. Every socket that sends
 * a message (a subscribe) gets {@code subscribed}, then, at the rate asked for, the same frame as a real
 * {@code post_changes} insert (same fields, same size, {@code committedAt} last), encoded once per
 * change and written to every socket by its own event loop, one task per loop per change. ChangeStreamBench drives it with {@code --raw-url}:
 * {@code GET /emit?rate=N} starts or changes the rate (0 stops), {@code GET /emit?measure=true}
 * marks the frames from now on as measured, and stopping answers how many measured changes were sent.
 *
 * <pre>java -cp bench/target/classes:$(cat bench/target/classpath.txt) io.fluxgate.bench.RawBroadcaster --port=8091</pre>
 */
public final class RawBroadcaster {

    private static final String SUBSCRIBED = "{\"type\":\"subscribed\",\"channel\":\"post_changes\"}";

    /** Subscribed sockets by the event loop that owns them: each change is one task per loop. */
    private final Map<EventLoop, Loop> loops = new ConcurrentHashMap<>();
    private final ScheduledExecutorService clock = Executors.newSingleThreadScheduledExecutor();
    private final AtomicLong ids = new AtomicLong();
    private final AtomicLong measured = new AtomicLong();
    private volatile boolean measuring;
    private ScheduledFuture<?> emitting;

    private RawBroadcaster() {
    }

    public static void main(String[] args) {
        Map<String, String> options = BenchClient.options(args);
        RawBroadcaster broadcaster = new RawBroadcaster();
        DisposableServer server = HttpServer.create()
                .port(Integer.parseInt(options.getOrDefault("port", "8091")))
                .route(routes -> routes
                        .ws("/ws/changes", (in, out) -> in.receive().asString()
                                .concatMap(message -> out.sendString(Mono.just(SUBSCRIBED)).then()
                                        .then(Mono.fromRunnable(() -> out.withConnection(
                                                connection -> broadcaster.subscribe(connection.channel())))))
                                .then())
                        .get("/emit", (request, response) -> {
                            Map<String, String> query = query(request.uri());
                            String answer = broadcaster.control(query);
                            return response.sendString(Mono.just(answer));
                        }))
                .bindNow();
        System.out.println("raw broadcaster on port " + server.port());
        server.onDispose().block();
    }

    private synchronized String control(Map<String, String> query) {
        if (query.containsKey("measure")) {
            measured.set(0);
            measuring = Boolean.parseBoolean(query.get("measure"));
            return "measuring " + measuring;
        }
        int rate = Integer.parseInt(query.getOrDefault("rate", "0"));
        if (emitting != null) {
            emitting.cancel(false);
            emitting = null;
        }
        if (rate > 0) {
            emitting = clock.scheduleAtFixedRate(this::emit, 0, TimeUnit.SECONDS.toNanos(1) / rate, TimeUnit.NANOSECONDS);
            return "emitting " + rate + "/s to " + loops.values().stream().mapToInt(loop -> loop.channels.size()).sum();
        }
        measuring = false;
        return Long.toString(measured.get());
    }

    private void subscribe(Channel channel) {
        Loop loop = loops.computeIfAbsent(channel.eventLoop(), key -> new Loop());
        loop.channels.add(channel);
        channel.closeFuture().addListener(closed -> loop.channels.remove(channel));
    }

    /** The sockets of one event loop, and how many changes are queued for it. */
    private static final class Loop {
        final Set<Channel> channels = ConcurrentHashMap.newKeySet();
        final AtomicInteger queued = new AtomicInteger();
    }

    /**
     * One change: encoded once, then one task per event loop writes it to each of its sockets (a
     * shared buffer, duplicated per socket) and flushes. A loop with 64 changes still queued, or a
     * socket whose buffer is full, skips the change: the harness counts it as missed, and memory
     * stays bounded.
     */
    private void emit() {
        boolean counted = measuring;
        if (counted) {
            measured.incrementAndGet();
        }
        long id = ids.incrementAndGet();
        String now = Instant.now().toString();
        String frame = "{\"type\":\"database_change\",\"channel\":\"post_changes\",\"operation\":\"INSERT\","
                + "\"table\":\"posts\",\"data\":{\"id\":" + id + ",\"body\":\"bench body\",\"title\":\""
                + (counted ? "measured" : "warmup") + "\",\"authorId\":1,\"createdAt\":\"" + now
                + "\",\"updatedAt\":\"" + now + "\"},\"cursor\":\"0000000000000000-" + id
                + "\",\"committedAt\":\"" + now + "\"}";
        ByteBuf bytes = Unpooled.directBuffer(frame.length()).writeBytes(frame.getBytes(StandardCharsets.UTF_8));
        loops.forEach((eventLoop, loop) -> {
            if (loop.queued.incrementAndGet() > 64) {
                loop.queued.decrementAndGet();
                return;
            }
            bytes.retain();
            eventLoop.execute(() -> {
                try {
                    for (Channel channel : loop.channels) {
                        if (channel.isWritable()) {
                            channel.writeAndFlush(new TextWebSocketFrame(bytes.retainedDuplicate()), channel.voidPromise());
                        }
                    }
                } finally {
                    bytes.release();
                    loop.queued.decrementAndGet();
                }
            });
        });
        bytes.release();
    }

    private static Map<String, String> query(String uri) {
        int at = uri.indexOf('?');
        Map<String, String> query = new java.util.HashMap<>();
        if (at >= 0) {
            for (String pair : uri.substring(at + 1).split("&")) {
                int eq = pair.indexOf('=');
                if (eq > 0) {
                    query.put(pair.substring(0, eq), pair.substring(eq + 1));
                }
            }
        }
        return query;
    }
}
