package io.fluxgate.web;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * How many of something each user holds at once (open sessions, transfers in flight) on this
 * replica, up to a bound. Users holding none take no memory.
 */
public final class PerUserLimit {

    private final int maxPerUser;
    private final Map<Long, Integer> held = new ConcurrentHashMap<>();

    public PerUserLimit(int maxPerUser) {
        this.maxPerUser = maxPerUser;
    }

    /** Counts one more for the user; false (and nothing counted) when it already holds the most allowed. */
    public boolean tryAcquire(long userId) {
        boolean[] admitted = new boolean[1];
        held.compute(userId, (user, count) -> {
            int current = count == null ? 0 : count;
            admitted[0] = current < maxPerUser;
            return admitted[0] ? current + 1 : count;
        });
        return admitted[0];
    }

    /** Gives back one the user held. */
    public void release(long userId) {
        held.computeIfPresent(userId, (user, count) -> count <= 1 ? null : count - 1);
    }

    /** True when the user already holds as many as it may. */
    public boolean isFull(long userId) {
        return held.getOrDefault(userId, 0) >= maxPerUser;
    }
}
