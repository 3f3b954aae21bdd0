package io.fluxgate.changes;

import io.fluxgate.changes.delivery.RowFilter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
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

    ChangeHub(ChangeStreamMetrics metrics, ChangeStreamProperties properties) {
        this.metrics = metrics;
        this.ring = new ChangeEvent[properties.hubHistory()];
        this.ringMaxBytes = properties.hubHistoryBytes().toBytes();
        this.maxSilenceNanos = maxSilence(properties).toNanos();
    }

    void publish(ChangeEvent event) {
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
        return subscribe(Runnable::run, Route.EVERYTHING, consumer);
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

    /** A hub subscription whose route can change while it is live. */
    interface Subscription extends Disposable {

        /** From now on, hand on the events {@code route} may want. */
        void reroute(Route route);
    }

    /**
     * Hands every event published from now on that {@code route} may want to {@code consumer}, on
     * {@code executor}, in order. Events published just before may reach it too: subscribers drop what
     * they have already seen.
     */
    Subscription subscribe(Executor executor, Route route, Consumer<ChangeEvent> consumer) {
        Shard shard = shards.computeIfAbsent(executor, Shard::new);
        Receiver receiver = new Receiver(consumer);
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

    private static final class Receiver {

        final Consumer<ChangeEvent> consumer;
        /** Changed under the shard's lock; null once removed, and then for good. */
        Route route;
        boolean removed;
        /** The shard delivery that last reached it; touched only on the shard's executor. */
        long seen;

        Receiver(Consumer<ChangeEvent> consumer) {
            this.consumer = consumer;
        }
    }

    private record ValueKey(String channel, String field, Object key) {
    }

    /**
     * The subscribers of one executor, indexed by what their routes want: by channel, by related
     * user, and by the value of an equality condition. An event reaches the union of its matches,
     * each subscriber once.
     */
    private static final class Shard {

        private final Executor executor;
        private final Map<String, Set<Receiver>> byChannel = new ConcurrentHashMap<>();
        private final Map<Long, Set<Receiver>> byUser = new ConcurrentHashMap<>();
        private final Map<ValueKey, Set<Receiver>> byValue = new ConcurrentHashMap<>();
        /** Channel to indexed field to the number of routes using it; replaced, never mutated. */
        private volatile Map<String, Map<String, Integer>> indexedFields = Map.of();
        private volatile int receivers;
        private long deliveries;

        Shard(Executor executor) {
            this.executor = executor;
        }

        void deliver(ChangeEvent event) {
            if (receivers > 0) {
                executor.execute(() -> route(event));
            }
        }

        private void route(ChangeEvent event) {
            long delivery = ++deliveries;
            handTo(byChannel.get(event.channel()), event, delivery);
            for (long user : event.userIds()) {
                handTo(byUser.get(user), event, delivery);
            }
            Map<String, Integer> fields = indexedFields.get(event.channel());
            if (fields != null) {
                for (String field : fields.keySet()) {
                    Object key = RowFilter.key(event.data().get(field));
                    if (key != null) {
                        handTo(byValue.get(new ValueKey(event.channel(), field, key)), event, delivery);
                    }
                }
            }
        }

        private static void handTo(Set<Receiver> receivers, ChangeEvent event, long delivery) {
            if (receivers == null) {
                return;
            }
            for (Receiver receiver : receivers) {
                if (receiver.seen != delivery) {
                    receiver.seen = delivery;
                    receiver.consumer.accept(event);
                }
            }
        }

        /**
         * Moves {@code receiver} to {@code route} (null: removes it). The new entries go in before the
         * old ones come out, so an event published meanwhile that both routes want is not missed.
         */
        synchronized void remove(Receiver receiver) {
            place(receiver, null);
            receiver.removed = true;
        }

        /**
         * Moves {@code receiver} to {@code route} (null: removes it). The new entries and field counts
         * go in before the old entries come out, so an event published meanwhile that both routes
         * want is not missed.
         */
        synchronized void place(Receiver receiver, Route route) {
            Route old = receiver.route;
            if (receiver.removed || (old == null && route == null)) {
                return;
            }
            if (route != null) {
                entries(route, (index, key) -> index.computeIfAbsent(key, k -> ConcurrentHashMap.newKeySet())
                        .add(receiver));
            }
            receiver.route = route;
            indexedFields = recount(old, route);
            if (old != null) {
                Set<Object> kept = route == null ? Set.of() : entriesOf(route);
                entries(old, (index, key) -> {
                    if (!kept.contains(key)) {
                        Set<Receiver> set = index.get(key);
                        if (set != null) {
                            set.remove(receiver);
                            if (set.isEmpty()) {
                                index.remove(key);
                            }
                        }
                    }
                });
            }
            receivers += (old == null ? 1 : 0) - (route == null ? 1 : 0);
        }

        /** The indexed-field counts with {@code old}'s equalities taken out and {@code route}'s put in. */
        private Map<String, Map<String, Integer>> recount(Route old, Route route) {
            boolean none = (old == null || old.equalities().isEmpty()) && (route == null || route.equalities().isEmpty());
            if (none) {
                return indexedFields;
            }
            Map<String, Map<String, Integer>> counts = new HashMap<>();
            indexedFields.forEach((channel, fields) -> counts.put(channel, new HashMap<>(fields)));
            count(counts, old, -1);
            count(counts, route, 1);
            Map<String, Map<String, Integer>> result = new HashMap<>();
            counts.forEach((channel, fields) -> {
                fields.values().removeIf(n -> n <= 0);
                if (!fields.isEmpty()) {
                    result.put(channel, Map.copyOf(fields));
                }
            });
            return Map.copyOf(result);
        }

        private static void count(Map<String, Map<String, Integer>> counts, Route route, int delta) {
            if (route == null) {
                return;
            }
            route.equalities().forEach((channel, conditions) -> {
                for (RowFilter.Equality condition : conditions) {
                    counts.computeIfAbsent(channel, c -> new HashMap<>()).merge(condition.field(), delta, Integer::sum);
                }
            });
        }

        private interface Entry {
            void at(Map<Object, Set<Receiver>> index, Object key);
        }

        @SuppressWarnings({"unchecked", "rawtypes"})
        private void entries(Route route, Entry entry) {
            for (String channel : route.wholeChannels()) {
                entry.at((Map) byChannel, channel);
            }
            if (route.relatedTo() != Route.NONE) {
                entry.at((Map) byUser, route.relatedTo());
            }
            route.equalities().forEach((channel, conditions) -> {
                for (RowFilter.Equality condition : conditions) {
                    for (Object key : condition.keys()) {
                        entry.at((Map) byValue, new ValueKey(channel, condition.field(), key));
                    }
                }
            });
        }

        private Set<Object> entriesOf(Route route) {
            Set<Object> keys = new java.util.HashSet<>();
            entries(route, (index, key) -> keys.add(key));
            return keys;
        }
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
    List<ChangeEvent> recentAfter(Position from, int max, long maxBytes) {
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
    long[] ringUse() {
        synchronized (ring) {
            return new long[] {published - oldest, ringBytes};
        }
    }

    private ChangeEvent at(long index) {
        return ring[(int) (index % ring.length)];
    }
}
