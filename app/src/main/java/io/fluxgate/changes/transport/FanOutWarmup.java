package io.fluxgate.changes.transport;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import io.fluxgate.changes.ChangeStreamMetrics;
import io.fluxgate.changes.ChangeStreamProperties;
import io.fluxgate.changes.capture.ChangeLog;
import io.fluxgate.changes.delivery.Authority;
import io.fluxgate.changes.delivery.ChangeFeed;
import io.fluxgate.changes.delivery.ChangeSession;
import io.fluxgate.changes.delivery.ClientMessage;
import io.fluxgate.changes.hub.ChangeFrames;
import io.fluxgate.changes.hub.ChangeHub;
import io.fluxgate.changes.hub.Channels;
import io.fluxgate.changes.hub.Position;
import io.fluxgate.security.Caller;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.ReferenceCountUtil;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;

import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.ApplicationArguments;
import org.springframework.boot.ApplicationRunner;
import org.springframework.core.Ordered;
import org.springframework.core.annotation.Order;
import org.springframework.stereotype.Component;

/**
 * Runs the live fan-out hot before the service reports ready, so the first changes after a start are
 * not delivered at many times the warm latency while the JIT compiler catches up (the REST warm-up
 * never reaches this code). It drives the real classes (a hub with its per-loop shards, feeds,
 * sessions with the delivery rule and ledger, socket writers and the loop batch) through a private
 * hub to private sessions writing into in-memory channels: nothing is published to the service's hub,
 * no client can receive a warm-up change, and the service's metrics do not count it. It runs before
 * the REST warm-up, for at most {@link #MAX_DURATION} (or {@code fluxgate.warmup.max-duration} when
 * shorter; 0 turns both off).
 */
@Component
@Order(Ordered.LOWEST_PRECEDENCE - 1)
class FanOutWarmup implements ApplicationRunner {

    private static final Logger log = LoggerFactory.getLogger(FanOutWarmup.class);

    static final int SESSIONS = 128;
    static final int CHANGES = 10_000;
    /** The most it takes (on a 2-core machine about 6 s), beside the REST warm-up's own budget. */
    static final Duration MAX_DURATION = Duration.ofSeconds(15);
    /** The private sessions' user: no user has it. */
    private static final long USER = -1;
    /** The two authors of the warm-up's posts: one of them is what the filtered sessions ask for. */
    private static final long[] AUTHORS = {-2, -3};

    private static final ChangeLog NO_LOG = new ChangeLog() {
        @Override
        public Flux<io.fluxgate.changes.hub.ChangeEvent> after(Position from, Filter filter) {
            return Flux.empty();
        }

        @Override
        public Mono<Position> head() {
            return Mono.just(Position.ORIGIN);
        }

        @Override
        public Mono<Long> prunedThrough() {
            return Mono.just(0L);
        }
    };

    private static final Authority NO_TOKENS = new Authority() {
        @Override
        public Mono<Caller> verify(String token) {
            return Mono.error(new IllegalArgumentException("no tokens in a warm-up"));
        }

        @Override
        public Mono<Boolean> holds(Caller caller) {
            return Mono.just(true);
        }
    };

    private final ChangeFrames frames;
    private final ChangeStreamProperties properties;
    private final Duration budget;

    FanOutWarmup(ChangeFrames frames, ChangeStreamProperties properties,
            @Value("${fluxgate.warmup.max-duration:0s}") Duration budget) {
        this.frames = frames;
        this.properties = properties;
        this.budget = budget;
    }

    @Override
    public void run(ApplicationArguments args) {
        if (budget.isZero() || budget.isNegative()) {
            return;
        }
        long started = System.nanoTime();
        try {
            Result result = exercise(SESSIONS, CHANGES, started + Math.min(budget.toNanos(), MAX_DURATION.toNanos()));
            log.info("Fan-out warm-up: {} changes to {} private sessions, {} frames, in {} ms", result.changes(),
                    SESSIONS, result.frames(), (System.nanoTime() - started) / 1_000_000);
        } catch (Exception failure) {
            // A warm-up that fails costs speed, never availability.
            log.warn("Fan-out warm-up stopped early: {}", failure.toString());
        }
    }

    /** What one warm-up did: changes published to its private hub, frames its sessions wrote. */
    record Result(long changes, long frames) {
    }

    /**
     * Publishes up to {@code changes} posts to {@code sessions} private sessions (a third unfiltered,
     * a third filtered on one author, a third filtered on the title with one column), until done or
     * {@code deadline} ({@link System#nanoTime()}).
     */
    Result exercise(int sessions, int changes, long deadline) {
        ChangeStreamMetrics metrics = new ChangeStreamMetrics(new SimpleMeterRegistry());
        ChangeHub hub = new ChangeHub(metrics, properties);
        hub.startAt(Position.ORIGIN);
        ChangeFeed feed = new ChangeFeed(hub, NO_LOG, metrics, properties);
        ChangeSession.Context context = new ChangeSession.Context(feed, (channel, caller, filter, columns) -> Flux.empty(),
                frames, metrics, List.of(), NO_TOKENS, properties.maxSubscriptionsPerSession());
        Caller caller = new Caller(USER, false, 0, Instant.now().plus(budget).plusSeconds(60));
        List<EmbeddedChannel> channels = new ArrayList<>();
        List<Disposable> running = new ArrayList<>();
        long written = 0;
        long published = 0;
        try {
            for (int i = 0; i < sessions; i++) {
                EmbeddedChannel channel = new EmbeddedChannel();
                SocketWriter writer = new SocketWriter(channel, new LoopBatch(channel.eventLoop()), metrics);
                ChangeSession session = new ChangeSession(caller, "warmup", context, channel.eventLoop());
                session.writeDirectlyTo(writer);
                Sinks.Many<ClientMessage> inbound = Sinks.many().unicast().onBackpressureBuffer();
                inbound.tryEmitNext(subscription(i));
                running.add(writer.write(session.run(inbound.asFlux()))
                        .subscribe(null, failure -> log.debug("Fan-out warm-up session ended: {}", failure.toString())));
                channels.add(channel);
                written += drain(channel);
            }
            for (long seq = 1; seq <= changes && System.nanoTime() < deadline; seq++) {
                long author = AUTHORS[(int) (seq % AUTHORS.length)];
                hub.publish(frames.logged(new Position(seq, seq), Channels.POSTS, "posts", "INSERT",
                        "{\"id\":" + seq + ",\"author_id\":" + author + ",\"title\":\"warm-up " + seq
                                + "\",\"body\":\"a change no client receives\"}",
                        new long[] {author}, Instant.now()));
                published++;
                for (EmbeddedChannel channel : channels) {
                    written += drain(channel);
                }
            }
        } finally {
            running.forEach(Disposable::dispose);
            // Each channel is closed and emptied even if another one's close fails.
            for (EmbeddedChannel channel : channels) {
                try {
                    channel.close();
                    drain(channel);
                } catch (Exception failure) {
                    log.debug("Fan-out warm-up channel did not close cleanly: {}", failure.toString());
                    channel.releaseOutbound();
                }
            }
        }
        return new Result(published, written);
    }

    private ClientMessage subscription(int session) {
        return switch (session % 3) {
            case 0 -> new ClientMessage.Subscribe(Channels.POSTS, null, null, false, null, null);
            case 1 -> new ClientMessage.Subscribe(Channels.POSTS, "author", null, false,
                    frames.value(Map.of("authorId", Map.of("eq", AUTHORS[0]))), null);
            default -> new ClientMessage.Subscribe(Channels.POSTS, "titles", null, false,
                    frames.value(Map.of("title", Map.of("like", "warm-up %"))), List.of("title"));
        };
    }

    /** Runs the channel's loop and lets go of what it wrote; how many frames that was. */
    private static long drain(EmbeddedChannel channel) {
        channel.runPendingTasks();
        long frames = 0;
        for (Object out = channel.readOutbound(); out != null; out = channel.readOutbound()) {
            ReferenceCountUtil.release(out);
            frames++;
        }
        return frames;
    }
}
