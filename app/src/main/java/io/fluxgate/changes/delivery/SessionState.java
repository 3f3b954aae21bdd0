package io.fluxgate.changes.delivery;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import io.fluxgate.changes.hub.ChangeEvent;
import io.fluxgate.changes.hub.Channels;
import io.fluxgate.changes.hub.Position;
import io.fluxgate.security.Caller;

/**
 * One session's subscriptions and {@link Ledger}, and the {@link DeliveryRule} applied to them: what
 * each event becomes on each path. No I/O and no threads: the session's serial step calls it, one
 * call at a time; the inspector reads the published views from other threads.
 */
public final class SessionState {

    private volatile Caller caller;
    private final Ledger ledger;
    private final Map<String, Subscription> subscriptions = new LinkedHashMap<>();
    /** By channel, with their ranges; immutable, replaced on every change, so other threads may read it. */
    private volatile Map<String, List<DeliveryRule.Subscribed>> byChannel = Map.of();
    /** The last logged event the live pass handled (the session's start before any). */
    private volatile Position liveThrough;

    public SessionState(Caller caller, Position start) {
        this.caller = caller;
        this.ledger = new Ledger(start);
        this.liveThrough = start;
    }

    public Caller caller() {
        return caller;
    }

    /** A fresh token of the same user: what it may see is judged with it from the next event on. */
    public void caller(Caller next) {
        caller = next;
    }

    public Ledger ledger() {
        return ledger;
    }

    public Position liveThrough() {
        return liveThrough;
    }

    public Subscription subscription(String id) {
        return subscriptions.get(id);
    }

    public Collection<Subscription> subscriptions() {
        return subscriptions.values();
    }

    public int size() {
        return subscriptions.size();
    }

    /** The subscriptions with their ranges, ordered by id. Safe from any thread. */
    public List<DeliveryRule.Subscribed> subscribed() {
        return byChannel.values().stream().flatMap(List::stream)
                .sorted(Comparator.comparing(subscribed -> subscribed.subscription().id())).toList();
    }

    /** The subscriptions of {@code channel} with their ranges. Safe from any thread. */
    public List<DeliveryRule.Subscribed> on(String channel) {
        return byChannel.getOrDefault(channel, List.of());
    }

    /**
     * Adds {@code subscription}, replacing one with its id: its stream accounts for nothing at or
     * before {@code start} (ignored on live-only channels, which have no positions).
     */
    public void add(Subscription subscription, Position start) {
        subscriptions.put(subscription.id(), subscription);
        if (Channels.DATABASE.contains(subscription.channel())) {
            ledger.open(subscription.id(), start);
        }
        regroup();
    }

    /** Removes {@code subscription} if it is still the one under its id; whether it was. */
    public boolean remove(Subscription subscription) {
        if (!subscriptions.remove(subscription.id(), subscription)) {
            return false;
        }
        ledger.close(subscription.id());
        regroup();
        return true;
    }

    /** Removes every subscription of {@code channel}; their ids. */
    public List<String> removeChannel(String channel) {
        List<String> removed = new ArrayList<>();
        for (Subscription subscription : List.copyOf(subscriptions.values())) {
            if (subscription.channel().equals(channel)) {
                subscriptions.remove(subscription.id());
                ledger.close(subscription.id());
                removed.add(subscription.id());
            }
        }
        regroup();
        return removed;
    }

    /** A snapshot of the subscription reflects every change up to {@code position}. */
    public void reflected(Subscription subscription, Position position) {
        Ledger.Range range = ledger.of(subscription.id());
        if (range != null && subscriptions.get(subscription.id()) == subscription) {
            range.advance(position);
        }
    }

    /**
     * What a live event becomes, if anything; then every stream of its channel has handled it.
     * Live events come in commit order; one handled already (a repeat) becomes nothing.
     */
    public Delivery live(ChangeEvent event) {
        Ledger.Range related = ledger.related(event.channel());
        List<DeliveryRule.Subscribed> onChannel = on(event.channel());
        Delivery delivery = DeliveryRule.decide(caller, onChannel, related, event, Ledger.Pass.LIVE);
        if (event.isLogged()) {
            Position position = event.position();
            for (DeliveryRule.Subscribed subscribed : onChannel) {
                subscribed.range().advance(position);
            }
            related.advance(position);
            if (position.isAfter(liveThrough)) {
                liveThrough = position;
            }
        }
        return delivery;
    }

    /**
     * A replay of the log after {@code after} up to {@code upTo}, for one subscription and the related
     * events of its channel ({@code only}), or for every subscription and all related events (null).
     */
    public Replay replay(Subscription only, Position after, Position upTo) {
        return new Replay(only, after, upTo);
    }

    /** One replay: judge each event read, in commit order, then {@link #finish()} when all are read. */
    public final class Replay {

        private final Subscription only;
        private final Position after;
        private final Position upTo;

        private Replay(Subscription only, Position after, Position upTo) {
            this.only = only;
            this.after = after;
            this.upTo = upTo;
        }

        /** What the event read becomes; the streams this replay serves have then accounted for it. */
        public Delivery next(ChangeEvent event) {
            if (only != null && !only.channel().equals(event.channel())) {
                return null;
            }
            List<DeliveryRule.Subscribed> onChannel = scope(event.channel());
            Ledger.Range related = ledger.related(event.channel());
            Delivery delivery = DeliveryRule.decide(caller, onChannel, relatedOwed(related, event.position()), event,
                    Ledger.Pass.REPLAY);
            // Covered as it goes: a replay cut short still accounts for what it sent.
            cover(onChannel, related, event.position());
            return delivery;
        }

        /**
         * The related stream, when this replay serves it at {@code position}. A whole-session replay
         * serves it everywhere. One subscription's replay serves it only before the session's start:
         * what came after, the live pass has sent or will send, and a subscription's cursor says
         * nothing of the session's related events.
         */
        private Ledger.Range relatedOwed(Ledger.Range related, Position position) {
            return only == null || related == null || related.precedes(position) ? related : null;
        }

        /** Everything up to {@code upTo} was read: the streams served account for it. */
        public void finish() {
            if (only != null) {
                cover(scope(only.channel()), ledger.related(only.channel()), upTo);
                return;
            }
            for (String channel : Channels.DATABASE) {
                cover(scope(channel), ledger.related(channel), upTo);
            }
        }

        private List<DeliveryRule.Subscribed> scope(String channel) {
            List<DeliveryRule.Subscribed> onChannel = on(channel);
            if (only == null) {
                return onChannel;
            }
            for (DeliveryRule.Subscribed subscribed : onChannel) {
                if (subscribed.subscription() == only) {
                    return List.of(subscribed);
                }
            }
            return List.of();
        }

        private void cover(List<DeliveryRule.Subscribed> onChannel, Ledger.Range related, Position through) {
            for (DeliveryRule.Subscribed subscribed : onChannel) {
                subscribed.range().cover(after, through);
            }
            if (related != null) {
                // One subscription's replay reaches back for the related stream, never forward.
                related.cover(after, only == null ? through : min(through, related.from()));
            }
        }

        private static Position min(Position a, Position b) {
            return a.compareTo(b) <= 0 ? a : b;
        }
    }

    private void regroup() {
        Map<String, List<DeliveryRule.Subscribed>> grouped = new HashMap<>();
        for (Subscription subscription : subscriptions.values()) {
            grouped.computeIfAbsent(subscription.channel(), channel -> new ArrayList<>())
                    .add(new DeliveryRule.Subscribed(subscription, ledger.of(subscription.id())));
        }
        grouped.replaceAll((channel, list) -> List.copyOf(list));
        byChannel = Map.copyOf(grouped);
    }
}
