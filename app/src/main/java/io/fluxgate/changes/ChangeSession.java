package io.fluxgate.changes;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import io.fluxgate.security.Caller;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;

/**
 * One client's change-stream protocol, whatever carries it (WebSocket or SSE): subscriptions, their
 * filters and columns, resumes, token refresh, and which frames each event becomes.
 *
 * <p>Everything it reacts to is one {@link SessionInput}, handled one at a time, so every event is
 * judged against one consistent set of subscriptions and the current token. Where events come from,
 * and how a slow client catches up, is its {@link ChangeFeed}'s business.
 */
final class ChangeSession {

    private static final Logger log = LoggerFactory.getLogger(ChangeSession.class);

    private static final Duration VERIFY_TIMEOUT = Duration.ofSeconds(5);
    private static final int MAX_TOKEN_LENGTH = 8192;
    /** Filter conditions, and like conditions, one session may hold over all its subscriptions. */
    static final int MAX_SESSION_CONDITIONS = 200;
    static final int MAX_SESSION_LIKES = 10;
    static final Outbound.Close TOKEN_EXPIRED = new Outbound.Close(4001, "token expired");
    static final Outbound.Close ACCESS_REVOKED = new Outbound.Close(4003, "access revoked");
    static final Outbound.Close RESUME_FAILED = new Outbound.Close(1011, "resume failed; reconnect");

    /**
     * One subscription.
     *
     * @param named whether the client chose the id (frames then name the subscriptions they match)
     * @param filter null: every event of the channel the caller may see
     * @param columns the fields sent, the primary key included; null: all
     * @param after logged events at or before this position are not its to send (a resume or a
     *        snapshot covered them); null: none
     */
    record Subscription(String id, boolean named, String channel, RowFilter filter, Set<String> columns,
            Position after) {

        Subscription from(Position position) {
            return new Subscription(id, named, channel, filter, columns, position);
        }

        List<String> ids() {
            return named ? List.of(id) : List.of();
        }

        /** Whether the event is at or before {@link #after}: a resume or snapshot accounted for it. */
        boolean covers(ChangeEvent event) {
            return after != null && event.isLogged() && !event.position().isAfter(after);
        }
    }

    /** What the factory hands every session. */
    record Context(ChangeFeed feed, ChangeSnapshots snapshots, ChangeFrames frames, ChangeStreamMetrics metrics,
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
    private volatile Caller caller;
    /** A resume or snapshot is being read for this session (its feed's catch-ups are the feed's to tell). */
    private volatile boolean readingLog;
    /** Why the session must end (expiry, revocation, shutdown): set from outside the serial step. */
    private final Sinks.One<Outbound.Close> ending = Sinks.one();

    // Touched only inside the sequential step, except where marked volatile.
    private final Map<String, Subscription> subscriptions = new LinkedHashMap<>();
    /** Immutable, replaced on every change; also read by the inspector. */
    private volatile Map<String, List<Subscription>> byChannel = Map.of();
    /** Live-only channels subscribed to; read by their sources' threads. */
    private volatile Set<String> liveChannels = Set.of();
    private Position sessionStart;
    /** Also read, racily, by the inspector: a monitoring view may be a moment stale. */
    private Position lastProcessed;
    /** Commit to handling, in ms, of the last event this session handled (live or replayed); for the inspector. */
    private long lastLagMs;
    /**
     * Per channel, the position a resume or snapshot read the log up to: it sent the related events
     * of that channel up to there, so the feed's copies are not sent again as related.
     */
    private final Map<String, Position> replayedThrough = new HashMap<>();
    /**
     * The resumes this connection replayed, newest last (at most as many as a session may hold
     * subscriptions): a later resume of another subscription on the same channel does not send
     * again what one of them sent. Only what this connection carried counts, never what a client's
     * cursor claims, so nothing is skipped that the client did not get.
     */
    private final Deque<Replayed> replays = new ArrayDeque<>();

    /** One subscription's resume: the events after {@code from} up to {@code through} it replayed. */
    private record Replayed(Subscription subscription, Position from, Position through, boolean visible) {

        /** Whether it sent {@code event} with at least {@code columns} of the row (null: all of it). */
        boolean sent(ChangeEvent event, Set<String> columns, long callerId) {
            if (!subscription.channel().equals(event.channel()) || !event.position().isAfter(from)
                    || event.position().isAfter(through)) {
                return false;
            }
            if (visible && (subscription.filter() == null || subscription.filter().test(event.data()))) {
                return subscription.columns() == null || (columns != null && subscription.columns().containsAll(columns));
            }
            return event.isRelatedTo(callerId); // sent whole, as related
        }
    }

    /**
     * @param executor where this session's events are handed over: its socket's event loop, or null
     *        to take them on whatever thread delivers them
     */
    ChangeSession(Caller caller, String transport, Context context, Executor executor) {
        this.caller = caller;
        this.transport = transport;
        this.context = context;
        this.frames = context.frames();
        this.executor = executor;
        this.interest = new Interest(logFilterFor(caller));
    }

    /** Frames for the client until it goes away or the session is ended; {@code inbound} are its messages. */
    Flux<Outbound> run(Flux<ClientMessage> inbound) {
        return Flux.defer(() -> {
            Position start = context.feed().head();
            sessionStart = start;
            lastProcessed = start;
            interest.set(route());
            Flux<SessionInput> messages = inbound.cast(SessionInput.class).concatWithValues(new ClientMessage.Closed());
            Flux<SessionInput> changes = context.feed().from(start, interest, executor).map(SessionInput.Change::new);
            // An end (revocation, expiry, shutdown) does not queue behind the client's requests: it
            // cuts the serial step short, whatever it is doing (a snapshot, a replay), and closes.
            AtomicReference<Outbound.Close> ended = new AtomicReference<>();
            Mono<Outbound.Close> ends = ending.asMono().doOnNext(ended::set);
            return Flux.merge(messages, changes, liveChanges())
                    .takeWhile(input -> !(input instanceof ClientMessage.Closed))
                    .concatMap(this::handleGuarded)
                    .takeUntil(Outbound.Close.class::isInstance)
                    .takeUntilOther(ends)
                    .concatWith(Mono.fromSupplier(ended::get));
        });
    }

    Caller caller() {
        return caller;
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

    /** Where the session's live stream started; null until it runs. Read from other threads (the inspector). */
    Position start() {
        return sessionStart;
    }

    /** The current subscriptions, ordered by id. Read from other threads (the inspector). */
    List<Subscription> subscriptionList() {
        return byChannel.values().stream().flatMap(List::stream)
                .sorted(Comparator.comparing(Subscription::id)).toList();
    }

    /**
     * What the inspector shows of this session. Read from another thread, so it may be a moment
     * stale. The lag is from commit to handling of the last event it handled.
     */
    ChangeInspector.SessionView view() {
        List<ChangeInspector.SubscriptionView> views = subscriptionList().stream()
                .map(subscription -> new ChangeInspector.SubscriptionView(subscription.id(), subscription.channel(),
                        subscription.filter() == null ? null : ChangeInspector.shown(subscription.filter().toString()),
                        subscription.columns() == null ? null : subscription.columns().stream().sorted().toList()))
                .toList();
        Position last = lastProcessed;
        return new ChangeInspector.SessionView(id(), caller.id(), transport, views, interest.buffered(),
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
        ending.tryEmitValue(close);
    }

    /** Ends the session, unless its token was replaced since {@code judged} was checked. */
    void endIf(Caller judged, Outbound.Close close) {
        if (caller == judged) {
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
            return change(change.event());
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

    // ---- events

    private Flux<Outbound> change(ChangeEvent event) {
        if (event.isLogged()) {
            if (!event.position().isAfter(lastProcessed)) {
                return Flux.empty();
            }
            lastProcessed = event.position();
        }
        handled(event);
        Outbound.Frame frame = frameFor(event);
        // A scalar result: concatMap takes it without subscribing to an inner publisher.
        return frame == null ? Flux.empty() : Flux.just(frame);
    }

    /**
     * The frame {@code event} becomes for this client, or null when it is not for it: it matches a
     * subscription the caller may see (narrowed by that subscription's filter and columns), or it is
     * related to the caller (sent whole, unfiltered).
     */
    private Outbound.Frame frameFor(ChangeEvent event) {
        return frameFor(event, false);
    }

    /** @param replaying the event comes from a replay that accounts for it: coverage does not apply */
    private Outbound.Frame frameFor(ChangeEvent event, boolean replaying) {
        Caller who = caller;
        boolean visible = Channels.seesAll(event.channel(), who.admin());
        Subscription first = null;
        List<Subscription> more = null;
        boolean covered = false;
        for (Subscription subscription : byChannel.getOrDefault(event.channel(), List.of())) {
            boolean passes = subscription.filter() == null || subscription.filter().test(event.data());
            if (!replaying && subscription.covers(event)) {
                // Its snapshot or replay already accounted for this change.
                covered |= passes;
            } else if (visible && passes) {
                if (first == null) {
                    first = subscription;
                } else {
                    if (more == null) {
                        more = new ArrayList<>();
                    }
                    more.add(subscription);
                }
            }
        }
        if (first == null) {
            return event.isRelatedTo(who.id()) && !covered && (replaying || !replayed(event)) ? frames.change(event)
                    : null;
        }
        if (more == null) {
            return frames.change(event, first.columns(), first.ids());
        }
        List<String> ids = new ArrayList<>();
        Set<String> columns = first.columns() == null ? null : new LinkedHashSet<>(first.columns());
        more.add(0, first);
        for (Subscription subscription : more) {
            if (subscription.named()) {
                ids.add(subscription.id());
            }
            if (columns != null && subscription.columns() == null) {
                columns = null;
            } else if (columns != null) {
                columns.addAll(subscription.columns());
            }
        }
        return frames.change(event, columns, ids);
    }

    private boolean replayed(ChangeEvent event) {
        Position through = event.isLogged() ? replayedThrough.get(event.channel()) : null;
        return through != null && !event.position().isAfter(through);
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
        String channel = request.channel();
        if (!Channels.ALL.contains(channel)) {
            return error("Unknown channel", channel, null);
        }
        String id = request.id() == null ? channel : request.id();
        if (!subscriptions.containsKey(id) && subscriptions.size() >= context.maxSubscriptions()) {
            return error("Too many subscriptions", channel,
                    "A session holds at most " + context.maxSubscriptions() + " subscriptions");
        }
        RowFilter filter = null;
        if (request.filter() != null) {
            try {
                filter = RowFilter.compile(request.filter(), Channels.fields(channel));
            } catch (RowFilter.Invalid invalid) {
                return error("Invalid filter", channel, invalid.getMessage());
            }
            String overBudget = overBudget(id, filter);
            if (overBudget != null) {
                return error("Invalid filter", channel, overBudget);
            }
        }
        Set<String> columns = null;
        if (request.columns() != null) {
            columns = new LinkedHashSet<>();
            columns.add("id");
            for (String column : request.columns()) {
                if (!Channels.fields(channel).contains(column)) {
                    return error("Invalid columns", channel, "Unknown field '" + column + "'");
                }
                columns.add(column);
            }
            columns = Set.copyOf(columns);
        }
        if (request.snapshot() && request.resumeFrom() != null) {
            return error("Invalid subscription", channel, "snapshot cannot be combined with resumeFrom");
        }
        if (request.snapshot() && !ChangeSnapshots.covers(channel)) {
            return error("Invalid subscription", channel, "Snapshots are taken of database channels only");
        }
        Position cursor = null;
        if (request.resumeFrom() != null) {
            cursor = Position.fromCursor(request.resumeFrom());
            if (cursor == null) {
                return error("Invalid cursor", channel, null);
            }
        }
        Subscription subscription = new Subscription(id, request.id() != null, channel, filter, columns, null);
        subscriptions.put(id, subscription);
        subscriptionsChanged();
        boolean logged = Channels.DATABASE.contains(channel);
        // Read after the route changed: every event after this position reaches the session.
        Position live = logged ? context.feed().head() : null;
        Flux<Outbound> ack = Flux.just(frames.subscribed(channel, request.id(), live));
        if (cursor != null && !logged) {
            return ack.concatWith(resync(channel));
        }
        if (cursor == null && !request.snapshot()) {
            return ack;
        }
        // What the feed hands over up to the live position, a resume or a snapshot covers instead.
        // A cursor from a replica further ahead: what lies between is the client's already.
        subscription = subscription.from(cursor == null ? live : Position.max(live, cursor));
        subscriptions.put(id, subscription);
        subscriptionsChanged();
        Flux<Outbound> read = request.snapshot() ? snapshot(subscription) : resume(subscription, cursor, live);
        return ack.concatWith(whileReadingLog(read));
    }

    /** Marks the session as replaying while {@code reading} runs (the inspector shows it). */
    private Flux<Outbound> whileReadingLog(Flux<Outbound> reading) {
        return reading.doFirst(() -> readingLog = true).doFinally(signal -> readingLog = false);
    }

    /**
     * The subscription's events after {@code cursor} up to {@code upTo}, from the log; later ones
     * come live. Related events of the channel come with them, but not twice: those this session
     * already delivered are skipped here, and the feed's copies of the rest are skipped later.
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
        String channel = subscription.channel();
        // Once read, the related events up to here are accounted for (a cursor may be ahead of the hub).
        Runnable accounted = () -> replayedThrough.merge(channel, Position.max(upTo, after), Position::max);
        if (!upTo.isAfter(after)) {
            accounted.run();
            return Flux.empty();
        }
        Position deliveredThrough = lastProcessed;
        Caller who = caller;
        boolean visible = Channels.seesAll(channel, who.admin());
        List<Replayed> earlier = List.copyOf(replays);
        Replayed thisOne = new Replayed(subscription, after, upTo, visible);
        // Non-admins on a restricted channel read only their own events: the database never walks
        // the channel's whole log for them.
        ChangeLogReader.Filter filter = visible
                ? ChangeLogReader.Filter.channel(channel, upTo)
                : ChangeLogReader.Filter.relatedOn(channel, who.id(), upTo);
        return context.feed().replay(after, filter).<Outbound>handle((event, sink) -> {
            handled(event);
            boolean related = event.isRelatedTo(who.id());
            if (related && event.position().isAfter(sessionStart) && !event.position().isAfter(deliveredThrough)) {
                return; // this session already sent it, as related
            }
            if (visible && (subscription.filter() == null || subscription.filter().test(event.data()))) {
                if (earlier.stream().noneMatch(other -> other.sent(event, subscription.columns(), who.id()))) {
                    sink.next(frames.change(event, subscription.columns(), subscription.ids()));
                }
            } else if (related && earlier.stream().noneMatch(other -> other.sent(event, null, who.id()))) {
                sink.next(frames.change(event));
            }
        }).doOnComplete(() -> {
            accounted.run();
            replays.addLast(thisOne);
            if (replays.size() > context.maxSubscriptions()) {
                replays.removeFirst();
            }
        });
    }

    /**
     * What the session would have sent after {@code cursor} up to the hub's head, for all its
     * subscriptions and the events related to the caller, from the log in one read, so frames leave
     * in commit order; the feed's copies up to there are not sent again.
     */
    private Flux<Outbound> resumeAll(String cursorText) {
        Position cursor = Position.fromCursor(cursorText);
        if (cursor == null) {
            return error("Invalid cursor", null, null);
        }
        // Handled before the feed hands over anything (the subscriptions and this message come first),
        // so no live event has been judged yet; the position check below is only a safeguard.
        Position head = context.feed().head();
        Position deliveredThrough = lastProcessed;
        // A cursor from a replica further ahead: what lies between is the client's already.
        Position upTo = Position.max(head, cursor);
        Flux<Outbound> liveOnly = Flux.fromIterable(liveChannels).concatMap(this::resync);
        return liveOnly.concatWith(context.feed().retains(cursor)
                .flatMapMany(retained -> {
                    if (!retained) {
                        return Flux.fromIterable(subscriptions.values()).map(Subscription::channel).distinct()
                                .filter(Channels.DATABASE::contains)
                                .concatMap(this::resync);
                    }
                    // From here the log read accounts for everything up to upTo; the feed's copies are not sent.
                    subscriptions.replaceAll((id, subscription) -> Channels.DATABASE.contains(subscription.channel())
                            ? subscription.from(upTo) : subscription);
                    subscriptionsChanged();
                    Channels.DATABASE.forEach(channel -> replayedThrough.merge(channel, upTo, Position::max));
                    if (!head.isAfter(cursor)) {
                        return Flux.empty();
                    }
                    ChangeLogReader.Filter everything = logFilterFor(caller);
                    ChangeLogReader.Filter filter = new ChangeLogReader.Filter(everything.channels(),
                            everything.userId(), everything.relatedChannels(), head);
                    return context.feed().replay(cursor, filter)
                            .doOnNext(this::handled)
                            .filter(event -> !(event.position().isAfter(sessionStart)
                                    && !event.position().isAfter(deliveredThrough)))
                            .mapNotNull(event -> frameFor(event, true));
                })
                .cast(Outbound.class)
                // Part of the stream may be missing: end it, so the client reconnects from its last id.
                .onErrorResume(failure -> Flux.just(RESUME_FAILED)));
    }

    /**
     * The rows the subscription covers, from one database snapshot, then {@code snapshot_end} with the
     * position they reflect; the feed's changes after that position follow. The snapshot is read
     * after the hub's head was, so it reflects at least every change the feed has handed over: its
     * position is where the subscription starts. None missing, none twice, even while writers run.
     */
    private Flux<Outbound> snapshot(Subscription subscription) {
        String channel = subscription.channel();
        String id = subscription.named() ? subscription.id() : null;
        return context.snapshots().read(channel, caller, subscription.filter(), subscription.columns())
                .concatMap(piece -> {
                    if (piece instanceof ChangeSnapshots.Rows rows) {
                        return Flux.just(frames.snapshot(channel, id, rows.table(), rows.rows()));
                    }
                    if (piece instanceof ChangeSnapshots.Refused refused) {
                        drop(subscription);
                        return error("Snapshot refused", channel, refused.reason() + " The subscription was removed.");
                    }
                    Position reflected = ((ChangeSnapshots.End) piece).position();
                    Subscription from = subscription.from(Position.max(subscription.after(), reflected));
                    subscriptions.replace(from.id(), subscription, from);
                    subscriptionsChanged();
                    return Flux.just(frames.snapshotEnd(channel, id, reflected));
                }, 1)
                .onErrorResume(failure -> {
                    drop(subscription);
                    return error("Snapshot failed", channel, "The database could not be read in time; subscribe"
                            + " again shortly. The subscription was removed.");
                });
    }

    private void drop(Subscription subscription) {
        if (subscriptions.remove(subscription.id(), subscription)) {
            subscriptionsChanged();
        }
    }

    private Flux<Outbound> unsubscribe(ClientMessage.Unsubscribe request) {
        String channel = request.channel();
        List<String> removed = new ArrayList<>();
        if (request.id() != null) {
            Subscription subscription = subscriptions.get(request.id());
            if (subscription == null || (channel != null && !channel.equals(subscription.channel()))) {
                return error("Unknown subscription", channel, null);
            }
            channel = subscription.channel();
            subscriptions.remove(request.id());
            removed.add(request.id());
        } else {
            if (!Channels.ALL.contains(channel)) {
                return error("Unknown channel", channel, null);
            }
            String of = channel;
            subscriptions.values().removeIf(subscription -> {
                boolean match = subscription.channel().equals(of);
                if (match) {
                    removed.add(subscription.id());
                }
                return match;
            });
        }
        subscriptionsChanged();
        return Flux.just(frames.unsubscribed(channel, removed));
    }

    /**
     * Why {@code filter}, replacing subscription {@code id}, would take the session past its filter
     * budget (each event is tested against every filter of its channel); null when it fits.
     */
    private String overBudget(String id, RowFilter filter) {
        int conditions = filter.conditions();
        int likes = filter.likes();
        for (Subscription other : subscriptions.values()) {
            if (other.filter() != null && !other.id().equals(id)) {
                conditions += other.filter().conditions();
                likes += other.filter().likes();
            }
        }
        if (conditions > MAX_SESSION_CONDITIONS) {
            return "A session's filters hold at most " + MAX_SESSION_CONDITIONS + " conditions in all";
        }
        return likes > MAX_SESSION_LIKES ? "A session's filters hold at most " + MAX_SESSION_LIKES + " 'like' conditions in all"
                : null;
    }

    /** Regroups the subscriptions and tells the feed what the session now wants. */
    private void subscriptionsChanged() {
        Map<String, List<Subscription>> grouped = new HashMap<>();
        Set<String> live = new HashSet<>();
        for (Subscription subscription : subscriptions.values()) {
            grouped.computeIfAbsent(subscription.channel(), c -> new ArrayList<>()).add(subscription);
            if (!Channels.DATABASE.contains(subscription.channel())) {
                live.add(subscription.channel());
            }
        }
        grouped.replaceAll((channel, list) -> List.copyOf(list));
        byChannel = Map.copyOf(grouped);
        liveChannels = Set.copyOf(live);
        interest.set(route());
    }

    /**
     * The hub route for the current subscriptions: a channel whole when one of its subscriptions
     * has no top-level equality, else by the equalities' values; related events always.
     */
    private Route route() {
        Caller who = caller;
        Set<String> whole = new HashSet<>();
        Map<String, List<RowFilter.Equality>> equalities = new HashMap<>();
        byChannel.forEach((channel, list) -> {
            if (!Channels.DATABASE.contains(channel) || !Channels.seesAll(channel, who.admin())) {
                return;
            }
            List<RowFilter.Equality> conditions = new ArrayList<>();
            for (Subscription subscription : list) {
                RowFilter.Equality equality = subscription.filter() == null ? null : subscription.filter().equality();
                if (equality == null) {
                    whole.add(channel);
                    return;
                }
                conditions.add(equality);
            }
            equalities.put(channel, List.copyOf(conditions));
        });
        return new Route(who.id(), Set.copyOf(whole), Map.copyOf(equalities));
    }

    /**
     * What this caller could ever be sent from the log: admins everything; others the open channels
     * and whatever is related to them. Subscriptions change while a feed catches up, so it is not
     * narrowed to them.
     */
    private static ChangeLogReader.Filter logFilterFor(Caller caller) {
        if (caller.admin()) {
            return ChangeLogReader.Filter.EVERYTHING;
        }
        List<String> open = Channels.DATABASE.stream().filter(Channels.OPEN::contains).sorted().toList();
        return new ChangeLogReader.Filter(open, caller.id(), null, null);
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
                    if (next.id() != caller.id()) {
                        return frames.error("Invalid token", null, "The token is for another user");
                    }
                    caller = next;
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
