package io.fluxgate.changes.delivery;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.IntSupplier;

import io.fluxgate.changes.capture.ChangeLog;
import io.fluxgate.changes.hub.ChangeEvent;
import io.fluxgate.changes.hub.ChangeHub;
import io.fluxgate.changes.hub.Channels;
import io.fluxgate.changes.hub.Route;
import io.fluxgate.security.Caller;

/**
 * What one session wants, shared with its feed: the session changes the route as the client
 * subscribes and unsubscribes, the feed's hub subscription follows at once. The change-log filter is
 * everything the caller could ever be sent, not the subscriptions, since those change while a feed
 * catches up; it changes only with the caller's token.
 */
public final class Interest {

    private volatile ChangeLog.Filter logFilter;
    private volatile Route route = Route.NOTHING;
    private ChangeHub.Subscription attached;
    /** The feed's live events waiting for the session, and whether it is catching up: for the inspector. */
    private volatile IntSupplier buffered;
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

    /** The session's way of taking a live event at once; null until it runs, or when it has none. */
    Express express() {
        return express;
    }

    boolean mayWant(ChangeEvent event) {
        return route.mayWant(event);
    }

    int buffered() {
        IntSupplier pending = buffered;
        return pending == null ? 0 : Math.max(0, pending.getAsInt());
    }

    boolean catchingUp() {
        return catchingUp;
    }

    /** The count of the feed's current buffer (a feed starting over gets a new one). */
    void buffered(IntSupplier pending) {
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

    /**
     * The hub route for {@code subscriptions}: a channel whole when one of its subscriptions has no
     * top-level equality, else by the equalities' values; related events always.
     */
    static Route routeFor(Caller who, Iterable<Subscription> subscriptions) {
        Set<String> whole = new HashSet<>();
        Map<String, List<Route.Equality>> equalities = new HashMap<>();
        for (Subscription subscription : subscriptions) {
            String channel = subscription.channel();
            if (!Channels.DATABASE.contains(channel) || !Channels.seesAll(channel, who.admin())) {
                continue;
            }
            Route.Equality equality = subscription.filter() == null ? null : subscription.filter().equality();
            if (equality == null) {
                whole.add(channel);
            } else {
                equalities.computeIfAbsent(channel, c -> new ArrayList<>()).add(equality);
            }
        }
        whole.forEach(equalities::remove);
        equalities.replaceAll((channel, list) -> List.copyOf(list));
        return new Route(who.id(), Set.copyOf(whole), Map.copyOf(equalities));
    }

    /**
     * What this caller could ever be sent from the log: admins everything; others the open channels
     * and whatever is related to them. Subscriptions change while a feed catches up, so it is not
     * narrowed to them.
     */
    static ChangeLog.Filter logFilterFor(Caller caller) {
        if (caller.admin()) {
            return ChangeLog.Filter.EVERYTHING;
        }
        List<String> open = Channels.DATABASE.stream().filter(Channels.OPEN::contains).sorted().toList();
        return new ChangeLog.Filter(open, caller.id(), null, null);
    }
}
