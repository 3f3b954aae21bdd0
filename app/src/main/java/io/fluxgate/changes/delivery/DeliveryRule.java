package io.fluxgate.changes.delivery;

import java.util.ArrayList;
import java.util.List;

import io.fluxgate.changes.hub.ChangeEvent;
import io.fluxgate.changes.hub.Channels;
import io.fluxgate.security.Caller;

/**
 * The one delivery rule: for a caller, its subscriptions with their ledger ranges, and one event,
 * which subscriptions take the event, or why each does not. Live delivery, replays, snapshots'
 * catch-up and the inspector all judge with it, so explaining a delivery can never disagree with it.
 * Pure: it reads its arguments and changes nothing.
 *
 * <p>A subscription takes an event of its channel that the caller may see, that passes its filter
 * and that its stream still owes (see {@link Ledger.Range#owes}). An event no subscription of its
 * channel takes or has accounted for goes whole (unfiltered, all columns) to a user it is related
 * to, once, from the session's start.
 */
public final class DeliveryRule {

    public enum Outcome {
        /** Taken now (or, for the inspector, to be taken when the session reaches it). */
        DELIVERED,
        NOT_SUBSCRIBED,
        NOT_ALLOWED,
        FILTERED_OUT,
        /** It matches, and the stream has accounted for it already: sent, or reflected in a snapshot. */
        ALREADY_SENT,
        /** It matches but was committed at or before the stream's start: only a resume from an earlier cursor gets it. */
        BEFORE_START
    }

    /** A subscription with its stream's range in the session's ledger (null on live-only channels). */
    public record Subscribed(Subscription subscription, Ledger.Range range) {
    }

    private DeliveryRule() {
    }

    /** Whether {@code subscribed} takes {@code event} on {@code pass}, and if not why. */
    public static Outcome judge(Caller caller, Subscribed subscribed, ChangeEvent event, Ledger.Pass pass) {
        Subscription subscription = subscribed.subscription();
        if (!subscription.channel().equals(event.channel())) {
            return Outcome.NOT_SUBSCRIBED;
        }
        if (!Channels.seesAll(event.channel(), caller.admin())) {
            return Outcome.NOT_ALLOWED;
        }
        if (!subscription.passes(event.data())) {
            return Outcome.FILTERED_OUT;
        }
        return owed(subscribed.range(), event, pass);
    }

    /**
     * Whether the related-events stream of the event's channel ({@code related}) takes it, given that
     * no subscription of the channel took it or accounted for it.
     */
    public static Outcome judgeRelated(Caller caller, Ledger.Range related, ChangeEvent event, Ledger.Pass pass) {
        if (related == null || !event.isRelatedTo(caller.id())) {
            return Outcome.NOT_SUBSCRIBED;
        }
        return owed(related, event, pass);
    }

    private static Outcome owed(Ledger.Range range, ChangeEvent event, Ledger.Pass pass) {
        if (range == null || !event.isLogged() || range.owes(event.position(), pass)) {
            return Outcome.DELIVERED;
        }
        return range.precedes(event.position()) ? Outcome.BEFORE_START : Outcome.ALREADY_SENT;
    }

    /**
     * What {@code event} becomes for a session on {@code pass}: the subscriptions of {@code onChannel}
     * that take it, else the related stream's whole event, else nothing (null).
     *
     * @param onChannel the subscriptions this pass serves on the event's channel (all of them live;
     *        those being resumed on a replay)
     * @param related the related stream of the event's channel, when this pass serves it; else null
     */
    public static Delivery decide(Caller caller, List<Subscribed> onChannel, Ledger.Range related, ChangeEvent event,
            Ledger.Pass pass) {
        Subscription first = null;
        List<Subscription> more = null;
        boolean accounted = false;
        for (Subscribed subscribed : onChannel) {
            Outcome outcome = judge(caller, subscribed, event, pass);
            if (outcome == Outcome.DELIVERED) {
                if (first == null) {
                    first = subscribed.subscription();
                } else {
                    if (more == null) {
                        more = new ArrayList<>(onChannel.size());
                        more.add(first);
                    }
                    more.add(subscribed.subscription());
                }
            } else if (outcome == Outcome.ALREADY_SENT) {
                accounted = true;
            }
        }
        if (first != null) {
            return new Delivery(event, more == null ? List.of(first) : more);
        }
        if (!accounted && judgeRelated(caller, related, event, pass) == Outcome.DELIVERED) {
            return new Delivery(event, List.of());
        }
        return null;
    }
}
