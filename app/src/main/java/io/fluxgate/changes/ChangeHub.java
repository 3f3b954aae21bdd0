package io.fluxgate.changes;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

import reactor.core.Disposable;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;

import org.springframework.stereotype.Component;

/**
 * One hot stream of committed changes, in commit order, shared by every session of this replica.
 * Only the listener publishes, one event at a time. Subscribers run on the publishing thread, so they
 * must only hand the event on (see {@link ChangeSession}).
 *
 * <p>The hub also keeps the most recent events in a ring, so a session that fell a little behind
 * catches up from memory, shared by all, instead of each one querying the change log.
 */
@Component
public class ChangeHub {

    /** Subscribers grouped by the executor they run on (a socket's event loop, usually). */
    private final Map<Executor, Shard> shards = new ConcurrentHashMap<>();
    private final AtomicReference<Position> head = new AtomicReference<>();
    private final Sinks.Empty<Void> started = Sinks.empty();
    private final ChangeStreamMetrics metrics;
    private final ChangeEvent[] ring;
    private long published;
    private Position start;
    /** Whether the listener is connected, and when it last finished reading the log up to date. */
    private volatile boolean listening;
    private volatile long caughtUpAt;
    private final long maxSilenceNanos;

    ChangeHub(ChangeStreamMetrics metrics, ChangeStreamProperties properties) {
        this.metrics = metrics;
        this.ring = new ChangeEvent[properties.hubHistory()];
        this.maxSilenceNanos = maxSilence(properties).toNanos();
    }

    void publish(ChangeEvent event) {
        synchronized (ring) {
            ring[(int) (published % ring.length)] = event;
            published++;
        }
        head.set(event.position());
        // One task per executor, not per subscriber: each event loop walks its own sessions.
        for (Shard shard : shards.values()) {
            shard.deliver(event);
        }
        metrics.eventsIn.increment();
    }

    /** Where the listener starts when the service starts: the log's newest entry. */
    void startAt(Position position) {
        synchronized (ring) {
            if (head.compareAndSet(null, position)) {
                start = position;
                started.tryEmitEmpty();
            }
        }
    }

    /** The last position published; its delivery to subscribers may still be under way. */
    public Position head() {
        Position position = head.get();
        return position == null ? Position.ORIGIN : position;
    }

    /** The listener has read everything committed before it began its last read. */
    void caughtUp() {
        caughtUpAt = System.nanoTime();
        listening = true;
    }

    /** The listener lost its connection: nothing is known of commits from now until it catches up. */
    void listenerLost() {
        listening = false;
    }

    /**
     * Whether this replica has seen every change committed more than a moment ago: the listener is
     * connected and has caught up with the log within {@link #maxSilence} (it reads at least once per
     * poll interval, so a longer silence means it is stuck, even on a connection that looks alive).
     */
    public boolean isCurrent() {
        return listening && System.nanoTime() - caughtUpAt < maxSilenceNanos;
    }

    /** Two poll intervals and a second: the longest a working listener goes without finishing a read. */
    public static Duration maxSilence(ChangeStreamProperties properties) {
        return properties.pollInterval().multipliedBy(2).plusSeconds(1);
    }

    /**
     * Hands every change published from now on to {@code consumer}, in commit order, on the
     * listener's own thread: for quick in-process reactions such as evicting a cached row. It must not
     * block or throw.
     */
    public Disposable onCommitted(Consumer<ChangeEvent> consumer) {
        return subscribe(Runnable::run, consumer);
    }

    boolean isStarted() {
        return head.get() != null;
    }

    /**
     * Completes once the listener knows where the log stands. Sessions wait for it: before that there
     * is no position to start from or to resume up to.
     */
    Mono<Void> ready() {
        return started.asMono();
    }

    /**
     * Hands every event published from now on to {@code consumer}, on {@code executor}, in order.
     * Events published just before may reach it too: subscribers drop what they have already seen.
     */
    Disposable subscribe(Executor executor, Consumer<ChangeEvent> consumer) {
        Shard shard = shards.computeIfAbsent(executor, Shard::new);
        shard.subscribers.add(consumer);
        return () -> shard.subscribers.remove(consumer);
    }

    private static final class Shard {

        private final Executor executor;
        private final List<Consumer<ChangeEvent>> subscribers = new CopyOnWriteArrayList<>();

        Shard(Executor executor) {
            this.executor = executor;
        }

        void deliver(ChangeEvent event) {
            if (!subscribers.isEmpty()) {
                executor.execute(() -> subscribers.forEach(subscriber -> subscriber.accept(event)));
            }
        }
    }

    /**
     * Up to {@code max} remembered events after {@code from}, oldest first; empty when there are none
     * yet; null when the ring no longer reaches back to {@code from} (read the change log instead).
     */
    List<ChangeEvent> recentAfter(Position from, int max) {
        synchronized (ring) {
            long oldest = Math.max(0, published - ring.length);
            boolean covered = oldest == 0
                    ? start != null && from.compareTo(start) >= 0
                    : from.compareTo(at(oldest).position()) >= 0;
            if (!covered) {
                return null;
            }
            // Positions grow with the index: find the first one after from.
            long low = oldest;
            long high = published;
            while (low < high) {
                long mid = (low + high) >>> 1;
                if (at(mid).position().isAfter(from)) {
                    high = mid;
                } else {
                    low = mid + 1;
                }
            }
            List<ChangeEvent> events = new ArrayList<>((int) Math.min(max, published - low));
            for (long i = low; i < published && events.size() < max; i++) {
                events.add(at(i));
            }
            return events;
        }
    }

    private ChangeEvent at(long index) {
        return ring[(int) (index % ring.length)];
    }
}
