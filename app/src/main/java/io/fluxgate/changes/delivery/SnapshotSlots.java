package io.fluxgate.changes.delivery;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeoutException;

import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;

/**
 * The replica's snapshot slots (each snapshot holds an analytics connection and a database snapshot
 * open), shared fairly: one user holds at most {@code perUser} of them, so no user can take every
 * slot; a snapshot that finds none free waits for one, at most {@code maxWait}, and a freed slot goes
 * to the waiting user who holds the fewest (the longest waiting among equals). Waiters hold nothing
 * but their place; their number is bounded, and so is each user's (as many as may read at once).
 */
public final class SnapshotSlots {

    /** A slot held; {@link #release()} gives it back (once; later calls do nothing). */
    interface Slot {
        void release();
    }

    /** Refused: no slot came free in time, or too many snapshots wait already. */
    static final class Unavailable extends RuntimeException {
        Unavailable() {
            super("no snapshot slot", null, false, false);
        }
    }

    private final int max;
    private final int perUser;
    private final int maxWaiting;
    private final Duration maxWait;
    /** Guarded by this. */
    private final Map<Long, Integer> held = new HashMap<>();
    private final List<Waiter> waiting = new ArrayList<>();
    private int running;

    SnapshotSlots(int max, int perUser, int maxWaiting, Duration maxWait) {
        this.max = max;
        this.perUser = Math.max(1, Math.min(perUser, max));
        this.maxWaiting = maxWaiting;
        this.maxWait = maxWait;
    }

    private final class Waiter {
        final long userId;
        final Sinks.One<Slot> granted = Sinks.one();

        Waiter(long userId) {
            this.userId = userId;
        }
    }

    /** A slot for {@code userId}: at once when one is free to it, else after a wait; or {@link Unavailable}. */
    Mono<Slot> acquire(long userId) {
        return Mono.defer(() -> {
            Waiter waiter;
            synchronized (this) {
                if (mayStart(userId)) {
                    return Mono.just(take(userId));
                }
                // Each user waits with at most as many snapshots as a replica reads at once, so a few
                // users cannot fill the queue for everyone else.
                if (waiting.size() >= maxWaiting || waitingFor(userId) >= max) {
                    return Mono.error(new Unavailable());
                }
                waiter = new Waiter(userId);
                waiting.add(waiter);
            }
            return waiter.granted.asMono()
                    .timeout(maxWait)
                    .onErrorMap(TimeoutException.class, late -> new Unavailable())
                    // Gave up (timed out, or the session ended): leave the queue, or hand back what came meanwhile.
                    .doOnError(failure -> abandon(waiter))
                    .doOnCancel(() -> abandon(waiter));
        });
    }

    /** Slots held now; for tests and metrics. */
    synchronized int running() {
        return running;
    }

    private int waitingFor(long userId) {
        int count = 0;
        for (Waiter waiter : waiting) {
            if (waiter.userId == userId) {
                count++;
            }
        }
        return count;
    }

    private boolean mayStart(long userId) {
        return running < max && held.getOrDefault(userId, 0) < perUser;
    }

    private Slot take(long userId) {
        running++;
        held.merge(userId, 1, Integer::sum);
        return new Held(userId);
    }

    private void abandon(Waiter waiter) {
        synchronized (this) {
            if (waiting.remove(waiter)) {
                return;
            }
        }
        // Already granted: the slot came as it gave up.
        waiter.granted.asMono().subscribe(Slot::release);
    }

    private final class Held implements Slot {
        private final long userId;
        private boolean released;

        Held(long userId) {
            this.userId = userId;
        }

        @Override
        public void release() {
            Waiter next;
            Slot slot;
            synchronized (SnapshotSlots.this) {
                if (released) {
                    return;
                }
                released = true;
                running--;
                held.computeIfPresent(userId, (user, count) -> count == 1 ? null : count - 1);
                next = nextWaiter();
                if (next == null) {
                    return;
                }
                waiting.remove(next);
                slot = take(next.userId);
            }
            // Outside the lock: the waiter's snapshot starts on this thread.
            if (next.granted.tryEmitValue(slot).isFailure()) {
                slot.release();
            }
        }
    }

    /** The waiter a free slot goes to: of users below their share, the one holding fewest, oldest first. */
    private Waiter nextWaiter() {
        Waiter best = null;
        int fewest = Integer.MAX_VALUE;
        for (Iterator<Waiter> it = waiting.iterator(); it.hasNext(); ) {
            Waiter candidate = it.next();
            int holds = held.getOrDefault(candidate.userId, 0);
            if (holds < perUser && holds < fewest) {
                best = candidate;
                fewest = holds;
            }
        }
        return best;
    }
}
