package io.fluxgate.changes.delivery;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

import io.fluxgate.changes.hub.ChangeEvent;
import io.fluxgate.changes.hub.ChangeFrames;

/**
 * One event to send, and for whom: the subscriptions that take it (their named ids, and the union
 * of their columns), or none when it goes whole to the user it is related to.
 */
public record Delivery(ChangeEvent event, List<Subscription> subscriptions) {

    /** Sent whole: related to the user, taken by no subscription. */
    public boolean whole() {
        return subscriptions.isEmpty();
    }

    /** The fields of {@code data} the frame carries: the union of the subscriptions' columns; null for all. */
    public Set<String> columns() {
        if (subscriptions.size() == 1) {
            return subscriptions.get(0).columns();
        }
        Set<String> columns = new LinkedHashSet<>();
        for (Subscription subscription : subscriptions) {
            if (subscription.columns() == null) {
                return null;
            }
            columns.addAll(subscription.columns());
        }
        return subscriptions.isEmpty() ? null : columns;
    }

    /** The subscription ids the frame names: those the client chose. */
    public List<String> ids() {
        if (subscriptions.size() == 1) {
            return subscriptions.get(0).ids();
        }
        List<String> ids = new ArrayList<>(subscriptions.size());
        for (Subscription subscription : subscriptions) {
            if (subscription.named()) {
                ids.add(subscription.id());
            }
        }
        return ids;
    }

    /** Its frame: the event's shared one when it asks for nothing narrower. */
    Outbound.Frame frame(ChangeFrames frames) {
        return frames.change(event, columns(), ids());
    }
}
