package io.fluxgate.changes.delivery;

import java.util.Set;
import java.util.function.Consumer;

import io.fluxgate.changes.capture.ChangeLog;
import io.fluxgate.changes.hub.ChangeEvent;
import io.fluxgate.changes.hub.ChangeFrames;
import io.fluxgate.changes.hub.Channels;
import io.fluxgate.changes.hub.Position;
import io.fluxgate.security.Caller;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Flux;

/**
 * What a session reads for its client from the log and the database: one subscription's resume,
 * the event stream's resume of everything, and a snapshot. Each event read is judged by the
 * session's state (the delivery rule against the ledger), so frames leave in commit order and none
 * twice; these run in the session's serial step, one at a time.
 */
final class SessionReads {

    private static final Logger log = LoggerFactory.getLogger(SessionReads.class);

    private final ChangeSession.Context context;
    private final ChangeFrames frames;
    private final SessionState state;
    /** The session removes a subscription whose read failed or was refused. */
    private final Consumer<Subscription> drop;
    /** The session notes each event it handled (the inspector's lag). */
    private final Consumer<ChangeEvent> handled;

    SessionReads(ChangeSession.Context context, SessionState state, Consumer<Subscription> drop,
            Consumer<ChangeEvent> handled) {
        this.context = context;
        this.frames = context.frames();
        this.state = state;
        this.drop = drop;
        this.handled = handled;
    }

    /**
     * The subscription's events after {@code cursor} up to {@code upTo}, from the log, with the related
     * events of its channel the ledger still owes; later ones come live.
     */
    Flux<Outbound> resume(Subscription subscription, Position cursor, Position upTo) {
        return context.feed().retains(cursor)
                .flatMapMany(retained -> retained ? replay(subscription, cursor, upTo) : resync(subscription.channel()))
                .onErrorResume(failure -> {
                    drop.accept(subscription);
                    return error("Resume failed", subscription.channel(),
                            "The change log could not be read; subscribe again shortly. The subscription was removed.");
                });
    }

    private Flux<Outbound> replay(Subscription subscription, Position after, Position upTo) {
        SessionState.Replay replay = state.replay(subscription, after, upTo);
        if (!upTo.isAfter(after)) {
            replay.finish();
            return Flux.empty();
        }
        Caller who = state.caller();
        String channel = subscription.channel();
        // Non-admins on a restricted channel read only their own events: the database never walks
        // the channel's whole log for them.
        ChangeLog.Filter filter = Channels.seesAll(channel, who.admin())
                ? ChangeLog.Filter.channel(channel, upTo)
                : ChangeLog.Filter.relatedOn(channel, who.id(), upTo);
        return replayed(context.feed().replay(after, filter), replay);
    }

    /** Each event read becomes what the replay says; the replay is finished once all are read. */
    private Flux<Outbound> replayed(Flux<ChangeEvent> read, SessionState.Replay replay) {
        return read.<Outbound>handle((event, sink) -> {
            handled.accept(event);
            Delivery delivery = replay.next(event);
            if (delivery != null) {
                sink.next(delivery.frame(frames));
            }
        }).doOnComplete(replay::finish);
    }

    /**
     * What the session would have sent after {@code cursor} up to the hub's head, for all its
     * subscriptions and the events related to the caller, from the log in one read, so frames leave
     * in commit order; what the ledger holds already is not sent again.
     */
    Flux<Outbound> resumeAll(String cursorText, Set<String> liveChannels) {
        Position cursor = Position.fromCursor(cursorText);
        if (cursor == null) {
            return error("Invalid cursor", null, null);
        }
        Position head = context.feed().head();
        // A cursor from a replica further ahead: what lies between is the client's already.
        Position upTo = Position.max(head, cursor);
        Flux<Outbound> liveOnly = Flux.fromIterable(liveChannels).concatMap(this::resync);
        return liveOnly.concatWith(context.feed().retains(cursor)
                .flatMapMany(retained -> {
                    if (!retained) {
                        return Flux.fromIterable(state.subscriptions()).map(Subscription::channel).distinct()
                                .filter(Channels.DATABASE::contains)
                                .concatMap(this::resync);
                    }
                    SessionState.Replay replay = state.replay(null, cursor, upTo);
                    if (!head.isAfter(cursor)) {
                        replay.finish();
                        return Flux.empty();
                    }
                    ChangeLog.Filter everything = Interest.logFilterFor(state.caller());
                    ChangeLog.Filter filter = new ChangeLog.Filter(everything.channels(),
                            everything.userId(), everything.relatedChannels(), head);
                    return replayed(context.feed().replay(cursor, filter), replay);
                })
                // Part of the stream may be missing: end it, so the client reconnects from its last id.
                .onErrorResume(failure -> Flux.just(ChangeSession.RESUME_FAILED)));
    }

    /**
     * The rows the subscription covers, from one database snapshot, then {@code snapshot_end} with the
     * position they reflect; the feed's changes after that position follow. The snapshot is read
     * after the hub's head was, so it reflects at least every change the feed has handed over: its
     * stream accounts for everything up to its position. None missing, none twice, even while writers run.
     */
    Flux<Outbound> snapshot(Subscription subscription) {
        String channel = subscription.channel();
        String id = subscription.named() ? subscription.id() : null;
        return context.snapshots().read(channel, state.caller(), subscription.filter(), subscription.columns())
                .concatMap(piece -> {
                    if (piece instanceof ChangeSnapshots.Rows rows) {
                        return Flux.just(frames.snapshot(channel, id, rows.table(), rows.rows()));
                    }
                    if (piece instanceof ChangeSnapshots.Refused refused) {
                        drop.accept(subscription);
                        return error("Snapshot refused", channel, refused.reason() + " The subscription was removed.");
                    }
                    Position reflected = ((ChangeSnapshots.End) piece).position();
                    state.reflected(subscription, reflected);
                    return Flux.just(frames.snapshotEnd(channel, id, reflected));
                }, 1)
                .onErrorResume(failure -> {
                    log.warn("Snapshot of {} failed: {}", channel, failure.toString());
                    drop.accept(subscription);
                    return error("Snapshot failed", channel, "The database could not be read in time; subscribe"
                            + " again shortly. The subscription was removed.");
                });
    }

    Flux<Outbound> resync(String channel) {
        context.metrics().resyncs.increment();
        return Flux.just(frames.resyncRequired(channel));
    }

    private Flux<Outbound> error(String error, String channel, String detail) {
        return Flux.just(frames.error(error, channel, detail));
    }
}
