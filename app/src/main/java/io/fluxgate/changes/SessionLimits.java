package io.fluxgate.changes;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** Open change-stream sessions per user on this replica, bounded by {@code fluxgate.changes.max-sessions-per-user}. */
final class SessionLimits {

    private final int maxPerUser;
    private final Map<Long, Integer> open = new ConcurrentHashMap<>();

    SessionLimits(int maxPerUser) {
        this.maxPerUser = maxPerUser;
    }

    /** Counts a new session of the user; false (and nothing counted) when it already has the most allowed. */
    boolean tryOpen(long userId) {
        boolean[] admitted = new boolean[1];
        open.compute(userId, (user, count) -> {
            int current = count == null ? 0 : count;
            admitted[0] = current < maxPerUser;
            return admitted[0] ? current + 1 : count;
        });
        return admitted[0];
    }

    void closed(long userId) {
        open.computeIfPresent(userId, (user, count) -> count <= 1 ? null : count - 1);
    }

    /** True when the user already holds as many sessions as it may. */
    boolean isFull(long userId) {
        return open.getOrDefault(userId, 0) >= maxPerUser;
    }
}
