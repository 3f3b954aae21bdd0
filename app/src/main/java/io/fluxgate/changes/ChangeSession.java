package io.fluxgate.changes;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import io.fluxgate.changes.delivery.Delivery;
import io.fluxgate.changes.delivery.RowFilter;
import io.fluxgate.changes.delivery.SessionState;
import io.fluxgate.changes.delivery.Subscription;
import io.fluxgate.security.Caller;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;

/**
 * One client's change-stream protocol, whatever carries it (WebSocket or SSE): subscriptions,
 * resumes, snapshots and token refresh, in one serial step.
 *
 * <p>Everything it reacts to is one {@link SessionInput}, handled one at a time. Which frame an event
 * becomes, and whether it was sent already, is its {@link SessionState}'s to say (the delivery rule
 * and the ledger); this class reads the log and snapshots for it and turns deliveries into frames.
 * Where live events come from, and how a slow client catches up, is its {@link ChangeFeed}'s business.
 */
final class ChangeSession {

    private static final Logger log = LoggerFactory.getLogger(ChangeSession.class);

    private static final Duration VERIFY_TIMEOUT = Duration.ofSeconds(5);
    private static final int MAX_TOKEN_LENGTH = 8192;
    static final Outbound.Close TOKEN_EXPIRED = new Outbound.Close(4001, "token expired");
    static final Outbound.Close ACCESS_REVOKED = new Outbound.Close(4003, "access revoked");
    static final Outbound.Close RESUME_FAILED = new Outbound.Close(1011, "resume failed; reconnect");

    /** What the factory hands every session. */
    record Context(ChangeFeed feed, SnapshotReader snapshots, ChangeFrames frames, ChangeStreamMetrics metrics,
            List<LiveChangeSource> liveSources, Authority authority, int maxSubscriptions) {
    }

    private static final AtomicLong IDS = new AtomicLong();

    private final long id = IDS.incrementAndGet();
    private final String transport;
    private final Instant connectedAt = Instant.now();
    private final Context context;
    private final ChangeFrames frames;
    private final Executor executor;
    private final Interest interest;
    /** The token it opened with, until it runs; then its state holds the current one. */
    private final Caller opened;
    /** Its subscriptions and ledger; set when it runs. Read by the inspector from other threads. */
    private volatile SessionState state;
    /** A resume or snapshot is being read for this session (its feed's catch-ups are the feed's to tell). */
    private volatile boolean readingLog;
    /** Why the session must end (expiry, revocation, shutdown): set from outside the serial step. */
    private final Sinks.One<Outbound.Close> ending = Sinks.one();
    /** Live-only channels subscribed to; read by their sources' threads. */
    private volatile Set<String> liveChannels = Set.of();
    /** Commit to handling, in ms, of the last event this session handled (live or replayed); for the inspector. */
    private volatile long lastLagMs;
    /** Inputs taken in and not yet handled: while any are, live events wait their turn behind them. */
    private final AtomicInteger inputs = new AtomicInteger();
    /** Where live events may go at once when nothing waits; null: always through the serial step. */
    private DirectWriter direct;
    private volatile boolean ended;

    /**
     * @param executor where this session's events are handed over: its socket's event loop, or null
     *        to take them on whatever thread delivers them
     */
    ChangeSession(Caller caller, String transport, Context context, Executor executor) {
        this.opened = caller;
        this.transport = transport;
        this.context = context;
        this.frames = context.frames();
        this.executor = executor;
        this.interest = new Interest(logFilterFor(caller));
    }

    /**
     * Live events go straight to {@code writer} while the serial step has nothing to do (see
     * {@link #deliverNow}). Set before the session runs; the writer must run on the session's executor.
     */
    void writeDirectlyTo(DirectWriter writer) {
        this.direct = writer;
    }

    /** Frames for the client until it goes away or the session is ended; {@code inbound} are its messages. */
    Flux<Outbound> run(Flux<ClientMessage> inbound) {
        return Flux.defer(() -> {
            Position start = context.feed().head();
            state = new SessionState(opened, start);
            interest.set(route(List.of()));
            if (direct != null) {
                interest.express(this::deliverNow);
            }
            Flux<SessionInput> messages = counted(inbound.cast(SessionInput.class))
                    .concatWithValues(new ClientMessage.Closed());
            Flux<SessionInput> changes = counted(context.feed().from(start, interest, executor)
                    .map(SessionInput.Change::new));
            // An end (revocation, expiry, shutdown) does not queue behind the client's requests: it
            // cuts the serial step short, whatever it is doing (a snapshot, a replay), and closes.
            AtomicReference<Outbound.Close> closing = new AtomicReference<>();
            Mono<Outbound.Close> ends = ending.asMono().doOnNext(closing::set);
            return Flux.merge(messages, changes, counted(liveChanges()))
                    .takeWhile(input -> !(input instanceof ClientMessage.Closed))
                    .concatMap(input -> handleGuarded(input).doFinally(signal -> inputs.decrementAndGet()))
                    .takeUntil(Outbound.Close.class::isInstance)
                    .takeUntilOther(ends)
                    .concatWith(Mono.fromSupplier(closing::get))
                    .doFinally(signal -> ended = true);
        });
    }

    /** Counts each input as it is taken in, before it can wait anywhere on its way to the serial step. */
    private <T> Flux<T> counted(Flux<T> in) {
        return in.doOnNext(input -> inputs.incrementAndGet());
    }

    /**
     * A live event taken at once, on the session's event loop, when the serial step has nothing
     * waiting or running and the socket has room: the same state and rule, without the hand-offs.
     * Otherwise false, and the feed buffers it for the serial step.
     */
    private boolean deliverNow(ChangeEvent event) {
        DirectWriter writer = direct;
        if (ended || inputs.get() != 0 || !writer.ready()) {
            return false;
        }
        handled(event);
        Delivery delivery = state.live(event);
        if (delivery != null) {
            writer.write(frames.change(delivery));
        }
        return true;
    }

    Caller caller() {
        SessionState current = state;
        return current == null ? opened : current.caller();
    }

    String id() {
        return Long.toString(id);
    }

    long number() {
        return id;
    }

    Instant connectedAt() {
        return connectedAt;
    }

    /** Its subscriptions and ledger; null until it runs. Read from other threads (the inspector). */
    SessionState state() {
        return state;
    }

    /**
     * What the inspector shows of this session. Read from another thread, so it may be a moment
     * stale. The lag is from commit to handling of the last event it handled.
     */
    ChangeInspector.SessionView view() {
        SessionState current = state;
        List<ChangeInspector.SubscriptionView> views = current == null ? List.of() : current.subscribed().stream()
                .map(subscribed -> ChangeInspector.SubscriptionView.of(subscribed.subscription()))
                .toList();
        Position last = current == null ? null : current.liveThrough();
        return new ChangeInspector.SessionView(id(), caller().id(), transport, views, interest.buffered(),
                readingLog || interest.catchingUp(), Math.max(0, lastLagMs), last == null ? null : last.toCursor(),
                connectedAt);
    }

    /** Notes how long after its commit the session handled {@code event} (the inspector shows it). */
    private void handled(ChangeEvent event) {
        if (event.committedAt() != null) {
            lastLagMs = System.currentTimeMillis() - event.committedAt().toEpochMilli();
        }
    }

    /** Ends the session with {@code close} at once, whatever its serial step is doing. */
    void end(Outbound.Close close) {
        ended = true;
        ending.tryEmitValue(close);
    }

    /** Ends the session, unless its token was replaced since {@code judged} was checked. */
    void endIf(Caller judged, Outbound.Close close) {
        if (caller() == judged) {
            end(close);
        }
    }

    /**
     * A client's message that fails in a way nobody foresaw answers an error frame and the session
     * lives on: no input of a client ends its own session with a protocol error (or anyone else's).
     */
    private Flux<Outbound> handleGuarded(SessionInput input) {
        try {
            return handle(input);
        } catch (RuntimeException unforeseen) {
            if (!(input instanceof ClientMessage)) {
                throw unforeseen;
            }
            log.warn("Change session {}: a {} message could not be handled", id, input.getClass().getSimpleName(),
                    unforeseen);
            return error("Invalid message format", null, null);
        }
    }

    private Flux<Outbound> handle(SessionInput input) {
        if (input instanceof SessionInput.Change change) {
            handled(change.event());
            return frame(state.live(change.event()));
        }
        if (input instanceof ClientMessage.Subscribe subscribe) {
            return subscribe(subscribe);
        }
        if (input instanceof ClientMessage.Unsubscribe unsubscribe) {
            return unsubscribe(unsubscribe);
        }
        if (input instanceof ClientMessage.Ping) {
            return Flux.just(frames.pong());
        }
        if (input instanceof ClientMessage.Resume resume) {
            return whileReadingLog(resumeAll(resume.cursor()));
        }
        if (input instanceof ClientMessage.Auth auth) {
            return auth(auth.token());
        }
        if (input instanceof ClientMessage.Invalid invalid) {
            return Flux.just(frames.error(invalid.error(), null, null));
        }
        if (input instanceof SessionInput.LiveDropped dropped) {
            return liveChannels.contains(dropped.channel()) ? resync(dropped.channel()) : Flux.empty();
        }
        return Flux.empty();
    }

    /** A delivery as its frame; nothing for none. A scalar result: concatMap takes it without an inner subscription. */
    private Flux<Outbound> frame(Delivery delivery) {
        return delivery == null ? Flux.empty() : Flux.just(frames.change(delivery));
    }

    /** Events of live-only channels this client subscribed to; a slow client loses some and is told so. */
    private Flux<SessionInput> liveChanges() {
        return Flux.fromIterable(context.liveSources()).flatMap(source -> {
            AtomicBoolean dropped = new AtomicBoolean();
            return source.events()
                    .filter(event -> liveChannels.contains(source.channel()))
                    .onBackpressureDrop(event -> {
                        dropped.set(true);
                        context.metrics().overflows.increment();
                    })
                    .flatMapIterable(event -> dropped.getAndSet(false)
                            ? List.of(new SessionInput.LiveDropped(source.channel()), new SessionInput.Change(event))
                            : List.of(new SessionInput.Change(event)));
        });
    }

    // ---- subscriptions

    private Flux<Outbound> subscribe(ClientMessage.Subscribe request) {
        SubscribeCheck.Result checked = SubscribeCheck.check(request, state, context.maxSubscriptions());
        if (checked instanceof SubscribeCheck.Refused refused) {
            return error(refused.error(), request.channel(), refused.detail());
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
        interest.set(route(next));
        Position live = logged ? context.feed().head() : null;
        // A cursor from a replica further ahead: what lies between is the client's already.
        Position start = !logged ? null : cursor == null ? live : Position.max(live, cursor);
        state.add(subscription, start);
        liveChannelsChanged();
        Flux<Outbound> ack = Flux.just(frames.subscribed(channel, request.id(), live));
        if (cursor != null && !logged) {
            return ack.concatWith(resync(channel));
        }
        if (request.snapshot()) {
            return ack.concatWith(whileReadingLog(snapshot(subscription)));
        }
        return cursor == null ? ack : ack.concatWith(whileReadingLog(resume(subscription, cursor, start)));
    }

    /** Marks the session as replaying while {@code reading} runs (the inspector shows it). */
    private Flux<Outbound> whileReadingLog(Flux<Outbound> reading) {
        return reading.doFirst(() -> readingLog = true).doFinally(signal -> readingLog = false);
    }

    /**
     * The subscription's events after {@code cursor} up to {@code upTo}, from the log, with the related
     * events of its channel the ledger still owes; later ones come live.
     */
    private Flux<Outbound> resume(Subscription subscription, Position cursor, Position upTo) {
        return context.feed().retains(cursor)
                .flatMapMany(retained -> retained ? replay(subscription, cursor, upTo) : resync(subscription.channel()))
                .onErrorResume(failure -> {
                    drop(subscription);
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
            handled(event);
            Delivery delivery = replay.next(event);
            if (delivery != null) {
                sink.next(frames.change(delivery));
            }
        }).doOnComplete(replay::finish);
    }

    /**
     * What the session would have sent after {@code cursor} up to the hub's head, for all its
     * subscriptions and the events related to the caller, from the log in one read, so frames leave
     * in commit order; what the ledger holds already is not sent again.
     */
    private Flux<Outbound> resumeAll(String cursorText) {
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
                    ChangeLog.Filter everything = logFilterFor(state.caller());
                    ChangeLog.Filter filter = new ChangeLog.Filter(everything.channels(),
                            everything.userId(), everything.relatedChannels(), head);
                    return replayed(context.feed().replay(cursor, filter), replay);
                })
                // Part of the stream may be missing: end it, so the client reconnects from its last id.
                .onErrorResume(failure -> Flux.just(RESUME_FAILED)));
    }

    /**
     * The rows the subscription covers, from one database snapshot, then {@code snapshot_end} with the
     * position they reflect; the feed's changes after that position follow. The snapshot is read
     * after the hub's head was, so it reflects at least every change the feed has handed over: its
     * stream accounts for everything up to its position. None missing, none twice, even while writers run.
     */
    private Flux<Outbound> snapshot(Subscription subscription) {
        String channel = subscription.channel();
        String id = subscription.named() ? subscription.id() : null;
        return context.snapshots().read(channel, state.caller(), subscription.filter(), subscription.columns())
                .concatMap(piece -> {
                    if (piece instanceof ChangeSnapshots.Rows rows) {
                        return Flux.just(frames.snapshot(channel, id, rows.table(), rows.rows()));
                    }
                    if (piece instanceof ChangeSnapshots.Refused refused) {
                        drop(subscription);
                        return error("Snapshot refused", channel, refused.reason() + " The subscription was removed.");
                    }
                    Position reflected = ((ChangeSnapshots.End) piece).position();
                    state.reflected(subscription, reflected);
                    return Flux.just(frames.snapshotEnd(channel, id, reflected));
                }, 1)
                .onErrorResume(failure -> {
                    drop(subscription);
                    return error("Snapshot failed", channel, "The database could not be read in time; subscribe"
                            + " again shortly. The subscription was removed.");
                });
    }

    private void drop(Subscription subscription) {
        if (state.remove(subscription)) {
            subscriptionsChanged();
        }
    }

    private Flux<Outbound> unsubscribe(ClientMessage.Unsubscribe request) {
        String channel = request.channel();
        List<String> removed;
        if (request.id() != null) {
            Subscription subscription = state.subscription(request.id());
            if (subscription == null || (channel != null && !channel.equals(subscription.channel()))) {
                return error("Unknown subscription", channel, null);
            }
            channel = subscription.channel();
            state.remove(subscription);
            removed = List.of(request.id());
        } else {
            if (!Channels.ALL.contains(channel)) {
                return error("Unknown channel", channel, null);
            }
            removed = state.removeChannel(channel);
        }
        subscriptionsChanged();
        return Flux.just(frames.unsubscribed(channel, removed));
    }

    /** Tells the feed and the live-only sources what the session now wants. */
    private void subscriptionsChanged() {
        liveChannelsChanged();
        interest.set(route(state.subscriptions()));
    }

    private void liveChannelsChanged() {
        Set<String> live = new HashSet<>();
        for (Subscription subscription : state.subscriptions()) {
            if (!Channels.DATABASE.contains(subscription.channel())) {
                live.add(subscription.channel());
            }
        }
        liveChannels = Set.copyOf(live);
    }

    /**
     * The hub route for {@code subscriptions}: a channel whole when one of its subscriptions has no
     * top-level equality, else by the equalities' values; related events always.
     */
    private Route route(Iterable<Subscription> subscriptions) {
        Caller who = caller();
        Set<String> whole = new HashSet<>();
        Map<String, List<RowFilter.Equality>> equalities = new HashMap<>();
        for (Subscription subscription : subscriptions) {
            String channel = subscription.channel();
            if (!Channels.DATABASE.contains(channel) || !Channels.seesAll(channel, who.admin())) {
                continue;
            }
            RowFilter.Equality equality = subscription.filter() == null ? null : subscription.filter().equality();
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
    private static ChangeLog.Filter logFilterFor(Caller caller) {
        if (caller.admin()) {
            return ChangeLog.Filter.EVERYTHING;
        }
        List<String> open = Channels.DATABASE.stream().filter(Channels.OPEN::contains).sorted().toList();
        return new ChangeLog.Filter(open, caller.id(), null, null);
    }

    // ---- authority

    /**
     * Replaces the session's token with a fresh one of the same user. While it is checked the session
     * waits; a bad token changes nothing.
     */
    private Flux<Outbound> auth(String token) {
        if (token.isEmpty() || token.length() > MAX_TOKEN_LENGTH) {
            return error("Invalid token", null, null);
        }
        return context.authority().verify(token)
                .timeout(VERIFY_TIMEOUT)
                .map(next -> {
                    if (next.id() != state.caller().id()) {
                        return frames.error("Invalid token", null, "The token is for another user");
                    }
                    state.caller(next);
                    interest.setLogFilter(logFilterFor(next));
                    subscriptionsChanged();
                    return frames.authOk(next.expiresAt());
                })
                .onErrorResume(invalid -> Mono.just(frames.error("Invalid token", null, null)))
                .cast(Outbound.class)
                .flux();
    }

    // ---- frames

    private Flux<Outbound> resync(String channel) {
        context.metrics().resyncs.increment();
        return Flux.just(frames.resyncRequired(channel));
    }

    private Flux<Outbound> error(String error, String channel, String detail) {
        return Flux.just(frames.error(error, channel, detail));
    }
}
