package io.fluxgate.changes;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * What one session wants, shared with its feed: the session changes the route as the client
 * subscribes and unsubscribes, the feed's hub subscription follows at once. The change-log filter is
 * everything the caller could ever be sent, not the subscriptions, since those change while a feed
 * catches up; it changes only with the caller's token.
 */
final class Interest {

    private volatile ChangeLog.Filter logFilter;
    private volatile Route route = Route.NOTHING;
    private ChangeHub.Subscription attached;
    /** The feed's live events waiting for the session, and whether it is catching up: for the inspector. */
    private volatile AtomicInteger buffered;
    private volatile boolean catchingUp;
    /** The session's way of taking a live event at once; none until it runs. */
    private volatile Express express;

    /** A session that can take a live event at once, on its event loop, when nothing waits before it. */
    interface Express {

        /** Whether the event was taken (and its frame, if any, written); false: buffer it. */
        boolean deliverNow(ChangeEvent event);
    }

    Interest(ChangeLog.Filter logFilter) {
        this.logFilter = logFilter;
    }

    Route route() {
        return route;
    }

    ChangeLog.Filter logFilter() {
        return logFilter;
    }

    void express(Express next) {
        express = next;
    }

    /** Whether the session took {@code event} at once (see {@link Express}). */
    boolean deliverNow(ChangeEvent event) {
        Express now = express;
        return now != null && now.deliverNow(event);
    }

    boolean mayWant(ChangeEvent event) {
        return route.mayWant(event);
    }

    int buffered() {
        AtomicInteger pending = buffered;
        return pending == null ? 0 : Math.max(0, pending.get());
    }

    boolean catchingUp() {
        return catchingUp;
    }

    /** The counter of the feed's current buffer (a feed starting over gets a new one). */
    void buffered(AtomicInteger pending) {
        buffered = pending;
    }

    void catchingUp(boolean now) {
        catchingUp = now;
    }

    /** A new token may change what the caller could be sent; a feed's next catch-up reads with it. */
    void setLogFilter(ChangeLog.Filter filter) {
        logFilter = filter;
    }

    synchronized void set(Route next) {
        if (next.equals(route)) {
            return;
        }
        route = next;
        if (attached != null) {
            attached.reroute(next);
        }
    }

    /** The feed's current hub subscription; rerouted now in case the route changed as it was made. */
    synchronized void attach(ChangeHub.Subscription subscription) {
        attached = subscription;
        subscription.reroute(route);
    }

    synchronized void detach(ChangeHub.Subscription subscription) {
        if (attached == subscription) {
            attached = null;
        }
        subscription.dispose();
    }
}
