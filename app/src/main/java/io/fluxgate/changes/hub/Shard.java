package io.fluxgate.changes.hub;

import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.function.Consumer;

/**
 * The subscribers of one executor, indexed by what their routes want: by channel, by related
 * user, and by the value of an equality condition. An event reaches the union of its matches,
 * each subscriber once.
 */
final class Shard {

    static final class Receiver {

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
                Object key = Values.key(event.data().get(field));
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
            for (Route.Equality condition : conditions) {
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
            for (Route.Equality condition : conditions) {
                for (Object key : condition.keys()) {
                    entry.at((Map) byValue, new ValueKey(channel, condition.field(), key));
                }
            }
        });
    }

    private Set<Object> entriesOf(Route route) {
        Set<Object> keys = new HashSet<>();
        entries(route, (index, key) -> keys.add(key));
        return keys;
    }
}
