package io.fluxgate.changes.transport;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

import io.netty.channel.EventLoop;

/**
 * Pings the WebSocket sessions of one event loop, and gives up on the silent ones, in one timer task
 * per loop: a timer and an operator chain per session cost heap on every idle connection. Touched on
 * its loop only.
 */
final class PingSweep implements Runnable {

    /** One session's side of it: its ping clock, how to ping it and how to close it. */
    interface Pinged {

        ChangeWebSocketHandler.PingClock clock();

        void ping();

        void timedOut();
    }

    private final EventLoop loop;
    private final long intervalNanos;
    private final Set<Pinged> sessions = new HashSet<>();
    private ScheduledFuture<?> schedule;

    PingSweep(EventLoop loop, long intervalNanos) {
        this.loop = loop;
        this.intervalNanos = intervalNanos;
    }

    /** From any thread; the first tick comes within one interval. */
    void add(Pinged session) {
        loop.execute(() -> {
            sessions.add(session);
            if (schedule == null) {
                schedule = loop.scheduleAtFixedRate(this, intervalNanos, intervalNanos, TimeUnit.NANOSECONDS);
            }
        });
    }

    /** From any thread; a loop with no session left stops ticking. */
    void remove(Pinged session) {
        loop.execute(() -> {
            sessions.remove(session);
            if (sessions.isEmpty() && schedule != null) {
                schedule.cancel(false);
                schedule = null;
            }
        });
    }

    @Override
    public void run() {
        long now = System.nanoTime();
        // Copied: a session timed out is closed, and removes itself, while the sweep goes on.
        List<Pinged> due = new ArrayList<>(sessions);
        for (Pinged session : due) {
            if (session.clock().timedOut(now)) {
                sessions.remove(session);
                session.timedOut();
            } else {
                session.ping();
            }
        }
    }
}
