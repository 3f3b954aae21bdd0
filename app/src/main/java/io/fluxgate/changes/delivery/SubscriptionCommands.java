package io.fluxgate.changes.delivery;

import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;

import io.fluxgate.changes.hub.ChangeFrames;
import io.fluxgate.changes.hub.Channels;
import io.fluxgate.changes.hub.Position;
import reactor.core.publisher.Flux;

/**
 * A session's subscribe and unsubscribe: what its subscriptions are, where each one's stream starts,
 * and what its route and live-only channels follow. Runs in the session's serial step.
 */
final class SubscriptionCommands {

    private final SessionState state;
    private final Interest interest;
    private final LiveChannels liveChannels;
    private final ChangeFeed feed;
    private final ChangeFrames frames;
    private final int maxSubscriptions;
    private SessionReads reads;
    /** Marks the session as reading the log while a resume or snapshot runs. */
    private final UnaryOperator<Flux<Outbound>> whileReadingLog;

    SubscriptionCommands(SessionState state, Interest interest, LiveChannels liveChannels, ChangeSession.Context context,
            UnaryOperator<Flux<Outbound>> whileReadingLog) {
        this.state = state;
        this.interest = interest;
        this.liveChannels = liveChannels;
        this.feed = context.feed();
        this.frames = context.frames();
        this.maxSubscriptions = context.maxSubscriptions();
        this.whileReadingLog = whileReadingLog;
    }

    /** Its resumes and snapshots (which may drop a subscription through {@link #drop}). */
    void readWith(SessionReads sessionReads) {
        this.reads = sessionReads;
    }

    Flux<Outbound> subscribe(ClientMessage.Subscribe request) {
        SubscribeCheck.Result checked = SubscribeCheck.check(request, state, maxSubscriptions);
        if (checked instanceof SubscribeCheck.Refused refused) {
            return Flux.just(frames.error(refused.error(), request.channel(), refused.detail()));
        }
        Subscription subscription = ((SubscribeCheck.Accepted) checked).subscription();
        Position cursor = ((SubscribeCheck.Accepted) checked).cursor();
        String channel = subscription.channel();
        boolean logged = Channels.DATABASE.contains(channel);
        // The route takes the subscription in before the live position is read: every event after
        // that position reaches the session. The subscription's stream starts exactly there.
        List<Subscription> next = new ArrayList<>(state.subscriptions());
        next.removeIf(other -> other.id().equals(subscription.id()));
        next.add(subscription);
        interest.set(Interest.routeFor(state.caller(), next));
        Position live = logged ? feed.head() : null;
        // A cursor from a replica further ahead: what lies between is the client's already.
        Position start = !logged ? null : cursor == null ? live : Position.max(live, cursor);
        state.add(subscription, start);
        liveChannels.follow(state.subscriptions());
        Flux<Outbound> ack = Flux.just(frames.subscribed(channel, request.id(), live));
        if (cursor != null && !logged) {
            return ack.concatWith(reads.resync(channel));
        }
        if (request.snapshot()) {
            return ack.concatWith(whileReadingLog.apply(reads.snapshot(subscription)));
        }
        return cursor == null ? ack : ack.concatWith(whileReadingLog.apply(reads.resume(subscription, cursor, start)));
    }

    Flux<Outbound> unsubscribe(ClientMessage.Unsubscribe request) {
        String channel = request.channel();
        List<String> removed;
        if (request.id() != null) {
            Subscription subscription = state.subscription(request.id());
            if (subscription == null || (channel != null && !channel.equals(subscription.channel()))) {
                return Flux.just(frames.error("Unknown subscription", channel, null));
            }
            channel = subscription.channel();
            state.remove(subscription);
            removed = List.of(request.id());
        } else {
            if (!Channels.ALL.contains(channel)) {
                return Flux.just(frames.error("Unknown channel", channel, null));
            }
            removed = state.removeChannel(channel);
        }
        changed();
        return Flux.just(frames.unsubscribed(channel, removed));
    }

    /** A subscription the server gave up (a failed resume or snapshot). */
    void drop(Subscription subscription) {
        if (state.remove(subscription)) {
            changed();
        }
    }

    /** Tells the feed and the live-only sources what the session now wants. */
    void changed() {
        liveChannels.follow(state.subscriptions());
        interest.set(Interest.routeFor(state.caller(), state.subscriptions()));
    }
}
