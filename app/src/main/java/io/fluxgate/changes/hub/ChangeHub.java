package io.fluxgate.changes.hub;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

import io.fluxgate.changes.ChangeStreamMetrics;
import io.fluxgate.changes.ChangeStreamProperties;
import io.fluxgate.changes.delivery.Subscription;
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
    /** The ring's weight bound, and its weight now: the oldest events go first when either bound is passed. */
    private final long ringMaxBytes;
    private long ringBytes;
    /** Index of the oldest event still in the ring (events before it were let go). */
    private long oldest;
    private long published;
    private Position start;
    /** Whether the listener is connected, and when it last finished reading the log up to date. */
    private volatile boolean listening;
    private volatile long caughtUpAt;
    private final long maxSilenceNanos;

    public ChangeHub(ChangeStreamMetrics metrics, ChangeStreamProperties properties) {
        this.metrics = metrics;
        this.ring = new ChangeEvent[properties.hubHistory()];
        this.ringMaxBytes = properties.hubHistoryBytes().toBytes();
        this.maxSilenceNanos = maxSilence(properties).toNanos();
    }

    public void publish(ChangeEvent event) {
        synchronized (ring) {
            if (published - oldest == ring.length) {
                forgetOldest();
            }
            ring[(int) (published % ring.length)] = event;
            ringBytes += event.weight();
            published++;
            // The newest event stays, however heavy: the ring always reaches back to the head.
            while (ringBytes > ringMaxBytes && published - oldest > 1) {
                forgetOldest();
            }
        }
        head.set(event.position());
        // One task per executor, not per subscriber: each event loop walks its own sessions.
        for (Shard shard : shards.values()) {
            shard.deliver(event);
        }
        metrics.published(event.committedAt());
    }

    /** Where the listener starts when the service starts: the log's newest entry. */
    public void startAt(Position position) {
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
    public void caughtUp() {
        caughtUpAt = System.nanoTime();
        listening = true;
    }

    /** The listener lost its connection: nothing is known of commits from now until it catches up. */
    public void listenerLost() {
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
        return subscribe(Runnable::run, Route.EVERYTHING, consumer);
    }

    public boolean isStarted() {
        return head.get() != null;
    }

    /**
     * Completes once the listener knows where the log stands. Sessions wait for it: before that there
     * is no position to start from or to resume up to.
     */
    public Mono<Void> ready() {
        return started.asMono();
    }

    /** A hub subscription whose route can change while it is live. */
    public interface Subscription extends Disposable {

        /** From now on, hand on the events {@code route} may want. */
        void reroute(Route route);
    }

    /**
     * Hands every event published from now on that {@code route} may want to {@code consumer}, on
     * {@code executor}, in order. Events published just before may reach it too: subscribers drop what
     * they have already seen.
     */
    public Subscription subscribe(Executor executor, Route route, Consumer<ChangeEvent> consumer) {
        Shard shard = shards.computeIfAbsent(executor, Shard::new);
        Shard.Receiver receiver = new Shard.Receiver(consumer);
        shard.place(receiver, route);
        return new Subscription() {
            @Override
            public void reroute(Route next) {
                shard.place(receiver, next);
            }

            @Override
            public void dispose() {
                shard.remove(receiver);
            }

            @Override
            public boolean isDisposed() {
                return receiver.removed;
            }
        };
    }

    /**
     * Up to {@code max} remembered events after {@code from}, oldest first; empty when there are none
     * yet; null when the ring no longer reaches back to {@code from} (read the change log instead).
     */
    List<ChangeEvent> recentAfter(Position from, int max) {
        return recentAfter(from, max, Long.MAX_VALUE);
    }

    /**
     * The same, stopping before the events would weigh more than {@code maxBytes} (at least one
     * comes): a slow reader holds a bounded batch, however large the rows.
     */
    public List<ChangeEvent> recentAfter(Position from, int max, long maxBytes) {
        synchronized (ring) {
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
            long bytes = 0;
            for (long i = low; i < published && events.size() < max; i++) {
                ChangeEvent event = at(i);
                bytes += event.weight();
                if (bytes > maxBytes && !events.isEmpty()) {
                    break;
                }
                events.add(event);
            }
            return events;
        }
    }

    private void forgetOldest() {
        int slot = (int) (oldest % ring.length);
        ringBytes -= ring[slot].weight();
        ring[slot] = null;
        oldest++;
    }

    /** The events the ring holds, and their weight; for tests and metrics. */
    public long[] ringUse() {
        synchronized (ring) {
            return new long[] {published - oldest, ringBytes};
        }
    }

    private ChangeEvent at(long index) {
        return ring[(int) (index % ring.length)];
    }
}
