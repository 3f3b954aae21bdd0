package io.fluxgate.changes.delivery;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicIntegerFieldUpdater;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.function.IntSupplier;

import io.fluxgate.changes.ChangeStreamMetrics;
import io.fluxgate.changes.ChangeStreamProperties;
import io.fluxgate.changes.capture.ChangeLog;
import io.fluxgate.changes.hub.ChangeEvent;
import io.fluxgate.changes.hub.ChangeHub;
import io.fluxgate.changes.hub.Position;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;
import reactor.core.scheduler.Scheduler;
import reactor.core.scheduler.Schedulers;

import org.springframework.stereotype.Component;

/**
 * Per-session event feeds: every event after a position that a session's {@link Interest} may want,
 * in commit order, each once, at the session's pace, with bounded memory.
 *
 * <p>Live events wait in a buffer bounded by count and by weight (the session's own, and all
 * sessions' together). A session that reads too slowly overflows it; its feed
 * then drops the live stream and catches up from its last position at the session's pace (from the
 * hub's memory of recent events, or from the change log when it is further behind) and rejoins the
 * live stream. A feed never calls back into its session.
 */
@Component
public class ChangeFeed {

    private static final int CATCH_UP_BATCH = 256;
    private static final Duration RETRY_AFTER = Duration.ofSeconds(1);

    private static final class Overflow extends RuntimeException {
        Overflow() {
            super("session buffer full", null, false, false);
        }
    }

    private final ChangeHub hub;
    private final ChangeLog log;
    private final ChangeStreamMetrics metrics;
    private final int bufferSize;
    private final long bufferBytes;
    private final long buffersBytes;
    private final long batchBytes;
    /** The weight of every session's waiting live events on this replica. */
    private final AtomicLong buffered = new AtomicLong();
    /** Log reads finish on other threads; their results are handed back to the session's executor. */
    private final Map<Executor, Scheduler> schedulers = new ConcurrentHashMap<>();

    public ChangeFeed(ChangeHub hub, ChangeLog log, ChangeStreamMetrics metrics, ChangeStreamProperties properties) {
        this.hub = hub;
        this.log = log;
        this.metrics = metrics;
        this.bufferSize = properties.sessionBuffer();
        this.bufferBytes = properties.sessionBufferBytes().toBytes();
        this.buffersBytes = properties.sessionBuffersBytes().toBytes();
        this.batchBytes = properties.replayBatchBytes().toBytes();
    }

    /** The weight of the live events waiting in all sessions' buffers now. */
    public long bufferedBytes() {
        return buffered.get();
    }

    /**
     * The weight of one session's waiting live events, counted against its own bound and the
     * replica's. An empty buffer takes one event whatever it weighs, so a heavy event can still be
     * delivered live. Closing gives back what is still counted.
     */
    private final class Held {

        private long bytes;
        private boolean closed;

        synchronized boolean reserve(long weight) {
            if (closed || (bytes > 0 && bytes + weight > bufferBytes)) {
                return false;
            }
            if (buffered.addAndGet(weight) > buffersBytes && bytes > 0) {
                buffered.addAndGet(-weight);
                return false;
            }
            bytes += weight;
            return true;
        }

        synchronized void release(long weight) {
            if (!closed) {
                bytes -= weight;
                buffered.addAndGet(-weight);
            }
        }

        synchronized void close() {
            if (!closed) {
                closed = true;
                buffered.addAndGet(-bytes);
                bytes = 0;
            }
        }
    }

    /** The hub's head: a session starts its feed here. */
    Position head() {
        return hub.head();
    }

    /**
     * Events after {@code start} that {@code interest} may want, emitted on {@code executor} (the
     * socket's event loop, so frames are written from the socket's own thread with no hand-off). The
     * hub is joined first, then what it published after the last position before the join is caught
     * up on, then the buffered live events follow (repeats are dropped by position). On overflow, or
     * when the log cannot be read, it starts over in place from the last position it emitted.
     */
    Flux<ChangeEvent> from(Position start, Interest interest, Executor executor) {
        Scheduler scheduler = executor == null ? Schedulers.immediate()
                : schedulers.computeIfAbsent(executor, Schedulers::fromExecutor);
        Executor deliverOn = executor == null ? Runnable::run : executor;
        AtomicReference<Position> last = new AtomicReference<>(start);
        return Flux.defer(() -> {
            Position from = last.get();
            Intake intake = new Intake(interest, last);
            intake.live = hub.subscribe(deliverOn, interest.route(), intake);
            interest.attach(intake.live);
            Flux<ChangeEvent> buffered = intake.buffer.asFlux().doOnNext(intake::taken);
            // Read after joining the hub: what it published before the join is caught up on first,
            // what it publishes after reaches the buffer (or, once joined, the session at once).
            Flux<ChangeEvent> events;
            if (from.compareTo(hub.head()) < 0) {
                events = Flux.concat(catchUp(from, interest.logFilter())
                        .filter(interest::mayWant)
                        .doOnSubscribe(s -> {
                            metrics.replaying.incrementAndGet();
                            interest.catchingUp(true);
                        })
                        .doFinally(s -> {
                            metrics.replaying.decrementAndGet();
                            interest.catchingUp(false);
                        })
                        .publishOn(scheduler)
                        .doOnComplete(() -> intake.joined = true), buffered);
            } else {
                intake.joined = true;
                events = buffered;
            }
            return events
                    .<ChangeEvent>handle((event, sink) -> {
                        // Repeats (an event both caught up on and buffered) are dropped by position.
                        if (event.position().isAfter(last.get())) {
                            last.set(event.position());
                            sink.next(event);
                        }
                    })
                    .doFinally(signal -> {
                        interest.detach(intake.live);
                        intake.held.close();
                    });
        })
                // Joined, buffered and drained on the loop alone, whatever thread subscribes or asks
                // for more: the session's direct path runs there too, and must never overtake an
                // event that left the buffer but has not reached the session yet.
                .subscribeOn(scheduler)
                // On overflow it starts over at once, from the last position emitted, in place. Any
                // other failure (the log could not be read: the database is busy or down) waits a
                // moment first, rather than dropping the session. A plain retry: a retry schedule
                // per session costs heap.
                .onErrorResume(failure -> failure instanceof Overflow ? Mono.error(failure)
                        : Mono.delay(RETRY_AFTER).then(Mono.error(failure)))
                .retry();
    }

    /**
     * Where the hub hands one run of a feed its live events, on the session's loop: straight to the
     * session when the feed has caught up and nothing waits in its buffer, else into the buffer, up
     * to its bounds. Past them the feed stops taking live events and starts over from its last
     * position. One object per run, with its counters in its own fields: the hub walks thousands of
     * these per change.
     */
    private final class Intake implements Consumer<ChangeEvent>, IntSupplier {

        private static final AtomicIntegerFieldUpdater<Intake> PENDING =
                AtomicIntegerFieldUpdater.newUpdater(Intake.class, "pending");

        private final AtomicReference<Position> last;
        private final Interest.Express express;
        final Held held = new Held();
        /**
         * Emitted by the hub's task alone (on the loop; with no executor, on the listener's one
         * publishing thread), overflow included, hence unsafe.
         */
        final Sinks.Many<ChangeEvent> buffer = Sinks.unsafe().many().unicast()
                .onBackpressureBuffer(new ConcurrentLinkedQueue<>());
        ChangeHub.Subscription live;
        /** Caught up: from now on the session may take a live event at once, when nothing is buffered. */
        volatile boolean joined;
        /** Live events in the buffer that the session has not taken yet. */
        private volatile int pending;

        Intake(Interest interest, AtomicReference<Position> last) {
            this.last = last;
            this.express = interest.express();
            interest.buffered(this);
        }

        @Override
        public void accept(ChangeEvent event) {
            if (joined && pending == 0 && express != null && express.deliverNow(event)) {
                if (event.isLogged()) {
                    last.accumulateAndGet(event.position(), Position::max);
                }
                return;
            }
            if (PENDING.incrementAndGet(this) > bufferSize || !held.reserve(event.weight())) {
                // This session cannot keep up: stop feeding it; it catches up at its own pace.
                live.dispose();
                metrics.overflows.increment();
                buffer.tryEmitError(new Overflow());
            } else {
                buffer.tryEmitNext(event);
            }
        }

        /** The session took {@code event} from the buffer. */
        void taken(ChangeEvent event) {
            PENDING.decrementAndGet(this);
            held.release(event.weight());
        }

        /** Live events waiting in the buffer now. */
        @Override
        public int getAsInt() {
            return pending;
        }
    }

    /**
     * Everything after {@code from}, at the consumer's pace: from the hub's memory while it reaches
     * back that far, then from the change log if it no longer does.
     */
    private Flux<ChangeEvent> catchUp(Position from, ChangeLog.Filter filter) {
        AtomicReference<Position> reached = new AtomicReference<>(from);
        AtomicBoolean outOfMemoryReach = new AtomicBoolean();
        Flux<ChangeEvent> fromMemory = Flux.<List<ChangeEvent>>generate(sink -> {
            List<ChangeEvent> recent = hub.recentAfter(reached.get(), CATCH_UP_BATCH, batchBytes);
            if (recent == null) {
                outOfMemoryReach.set(true);
                sink.complete();
            } else if (recent.isEmpty()) {
                sink.complete();
            } else {
                reached.set(recent.get(recent.size() - 1).position());
                sink.next(recent);
            }
        }).concatMapIterable(batch -> batch, 1);
        return fromMemory.concatWith(Flux.defer(() -> outOfMemoryReach.get()
                ? log.after(reached.get(), filter)
                : Flux.empty()));
    }

    /** The logged events after {@code after} up to {@code filter}'s bound, for a resume. */
    Flux<ChangeEvent> replay(Position after, ChangeLog.Filter filter) {
        return log.after(after, filter);
    }

    /**
     * Whether the log still holds everything after {@code cursor}: false when it was pruned past it,
     * or when it names a position the log never had.
     */
    Mono<Boolean> retains(Position cursor) {
        return Mono.zip(log.prunedThrough(), log.head()).map(bounds -> {
            long pruned = bounds.getT1();
            boolean beforeRetained = pruned > 0 && cursor.commitSeq() <= pruned;
            boolean unknown = cursor.commitSeq() > bounds.getT2().commitSeq();
            return !beforeRetained && !unknown;
        });
    }
}
