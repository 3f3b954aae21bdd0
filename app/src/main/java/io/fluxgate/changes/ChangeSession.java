package io.fluxgate.changes;

import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import io.fluxgate.security.Caller;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;
import reactor.core.scheduler.Scheduler;
import reactor.util.concurrent.Queues;
import reactor.util.retry.Retry;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ObjectNode;

/**
 * One client's view of the change stream.
 *
 * <p>Events and client messages go through one sequential step, so every event is judged against one
 * consistent set of subscriptions and each is sent at most once: an event at or before the last
 * position processed is skipped. Live events wait in a bounded buffer; a client that reads too
 * slowly overflows it, and then this session alone drops the live feed and catches up from its last
 * position at the client's pace (from the hub's memory of recent events, or from the change log when
 * it is further behind), then rejoins the live feed. Nothing is lost and memory stays bounded.
 */
final class ChangeSession {

    private static final int CATCH_UP_BATCH = 256;
    private static final Duration RETRY_AFTER = Duration.ofSeconds(1);

    /** A frame for the socket; {@code committedAt} is set on change frames (for the lag metric). */
    record Frame(byte[] bytes, Instant committedAt) {
    }

    private static final class Overflow extends RuntimeException {
        Overflow() {
            super("session buffer full", null, false, false);
        }
    }

    private final Caller caller;
    private final ChangeHub hub;
    private final ChangeLogReader log;
    private final ChangeStreamMetrics metrics;
    private final JsonMapper json;
    private final int bufferSize;
    private final Executor executor;
    private final Scheduler scheduler;
    private final List<LiveChangeSource> liveSources;
    /** Live-only channels that dropped frames for this client: it is told to resync. */
    private final Set<String> droppedLive = ConcurrentHashMap.newKeySet();

    // Touched only inside the sequential step, except where marked volatile.
    private Position lastProcessed;
    private Position sessionStart;
    private final Map<String, Position> resumedThrough = new HashMap<>();
    /** Read by the hub's thread to pre-filter; replaced, never mutated. */
    private volatile Set<String> subscribed = Set.of();
    /** The last processed position, for a restart after overflow. */
    private volatile Position restartFrom;

    /**
     * @param executor where this session does its work: its socket's event loop, so live frames are
     *        written from the socket's own thread with no hand-off per frame
     * @param scheduler the same, for results that arrive on other threads (change-log reads)
     */
    ChangeSession(Caller caller, ChangeHub hub, ChangeLogReader log, ChangeStreamMetrics metrics, JsonMapper json,
            int bufferSize, Executor executor, Scheduler scheduler, List<LiveChangeSource> liveSources) {
        this.liveSources = liveSources;
        this.executor = executor;
        this.scheduler = scheduler;
        this.caller = caller;
        this.hub = hub;
        this.log = log;
        this.metrics = metrics;
        this.json = json;
        this.bufferSize = bufferSize;
    }

    /** Frames for the client until it goes away; {@code inbound} are its parsed messages. */
    Flux<Frame> run(Flux<ClientMessage> inbound) {
        return Flux.defer(() -> {
            Position start = hub.head();
            lastProcessed = start;
            sessionStart = start;
            restartFrom = start;
            Flux<Object> control = inbound.concatWith(Mono.just(new ClientMessage.Closed())).cast(Object.class);
            return Flux.merge(control, live(), liveSources())
                    .takeWhile(item -> !(item instanceof ClientMessage.Closed))
                    .concatMap(this::handle);
        });
    }

    /**
     * Events after {@link #restartFrom}: the hub is joined first, then what the hub published after
     * that position before the join is caught up on, then the buffered live events follow (repeats
     * are dropped by position). On overflow, or when the log cannot be read, it starts over in place
     * from the last processed position.
     */
    private Flux<ChangeEvent> live() {
        return Flux.defer(() -> {
            Position from = restartFrom;
            AtomicInteger pending = new AtomicInteger();
            Queue<ChangeEvent> queue = Queues.<ChangeEvent>unbounded(16).get();
            Sinks.Many<ChangeEvent> buffer = Sinks.many().unicast().onBackpressureBuffer(queue);
            Disposable[] feed = new Disposable[1];
            feed[0] = hub.subscribe(executor, event -> {
                if (!wants(event)) {
                    return;
                }
                if (pending.incrementAndGet() > bufferSize) {
                    // This client cannot keep up: stop feeding it; it catches up at its own pace.
                    feed[0].dispose();
                    metrics.overflows.increment();
                    buffer.tryEmitError(new Overflow());
                } else {
                    buffer.tryEmitNext(event);
                }
            });
            Flux<ChangeEvent> catchUp = from.compareTo(hub.head()) >= 0 ? Flux.empty()
                    : catchUp(from)
                            .doOnSubscribe(s -> metrics.replaying.incrementAndGet())
                            .doFinally(s -> metrics.replaying.decrementAndGet())
                            .publishOn(scheduler);
            return Flux.concat(catchUp, buffer.asFlux().doOnNext(event -> pending.decrementAndGet()))
                    .doFinally(signal -> feed[0].dispose());
        }).retryWhen(Retry.from(failures -> failures.concatMap(failure -> {
            if (failure.failure() instanceof Overflow) {
                return Mono.just(failure);
            }
            // The log could not be read (the database is busy or down): try again shortly rather
            // than dropping the client.
            return Mono.delay(RETRY_AFTER);
        })));
    }

    /**
     * Everything after {@code from}, at the consumer's pace: from the hub's memory while it reaches
     * back that far, then from the change log if it no longer does.
     */
    private Flux<ChangeEvent> catchUp(Position from) {
        AtomicReference<Position> reached = new AtomicReference<>(from);
        AtomicBoolean outOfMemoryReach = new AtomicBoolean();
        Flux<ChangeEvent> fromMemory = Flux.<List<ChangeEvent>>generate(sink -> {
            List<ChangeEvent> recent = hub.recentAfter(reached.get(), CATCH_UP_BATCH);
            if (recent == null) {
                outOfMemoryReach.set(true);
                sink.complete();
            } else if (recent.isEmpty()) {
                sink.complete();
            } else {
                reached.set(recent.get(recent.size() - 1).position());
                sink.next(recent);
            }
        }).concatMapIterable(batch -> batch, 1);
        return fromMemory.concatWith(Flux.defer(() -> outOfMemoryReach.get()
                ? log.after(reached.get(), catchUpFilter())
                : Flux.empty()));
    }

    /**
     * What this client could ever be sent from the log: admins everything; others the open channels
     * and whatever is related to them. Subscriptions may change while it catches up, so it is not
     * narrowed to them; {@link #wants} decides per event.
     */
    private ChangeLogReader.Filter catchUpFilter() {
        if (caller.admin()) {
            return ChangeLogReader.Filter.EVERYTHING;
        }
        List<String> open = Channels.DATABASE.stream().filter(Channels.OPEN::contains).sorted().toList();
        return new ChangeLogReader.Filter(open, caller.id(), null, null);
    }

    /** A frame from a live-only channel (see {@link LiveChangeSource}). */
    private record LiveFrame(String channel, byte[] bytes) {
    }

    /** Frames of live-only channels this client subscribed to; a slow client loses some and is told so. */
    private Flux<LiveFrame> liveSources() {
        return Flux.fromIterable(liveSources).flatMap(source -> source.frames()
                .filter(frame -> subscribed.contains(source.channel()))
                .onBackpressureDrop(dropped -> {
                    droppedLive.add(source.channel());
                    metrics.overflows.increment();
                })
                .map(frame -> new LiveFrame(source.channel(), frame)));
    }

    /** What this client may see: its own events anywhere, and subscribed channels as permissions allow. */
    private boolean wants(ChangeEvent event) {
        if (event.isRelatedTo(caller.id())) {
            return true;
        }
        return subscribed.contains(event.channel()) && (caller.admin() || Channels.OPEN.contains(event.channel()));
    }

    private Flux<Frame> handle(Object item) {
        if (item instanceof ChangeEvent event) {
            // Scalar results: concatMap takes them without subscribing to an inner publisher.
            Frame frame = process(event);
            return frame == null ? Flux.empty() : Flux.just(frame);
        }
        if (item instanceof LiveFrame live) {
            if (!subscribed.contains(live.channel())) {
                return Flux.empty();
            }
            Frame frame = new Frame(live.bytes(), null);
            return droppedLive.remove(live.channel())
                    ? Flux.just(control("resync_required", live.channel()), frame)
                    : Flux.just(frame);
        }
        if (item instanceof ClientMessage.Subscribe subscribe) {
            return subscribe(subscribe);
        }
        if (item instanceof ClientMessage.Unsubscribe unsubscribe) {
            return unsubscribe(unsubscribe.channel());
        }
        if (item instanceof ClientMessage.Ping) {
            return Flux.just(control("pong", null));
        }
        if (item instanceof ClientMessage.Invalid invalid) {
            return Flux.just(error(invalid.error(), null));
        }
        return Flux.empty();
    }

    private Frame process(ChangeEvent event) {
        if (!event.position().isAfter(lastProcessed)) {
            return null;
        }
        lastProcessed = event.position();
        restartFrom = lastProcessed;
        Position resumed = resumedThrough.get(event.channel());
        if (resumed != null && !event.position().isAfter(resumed)) {
            return null;
        }
        return wants(event) ? new Frame(event.frame(), event.committedAt()) : null;
    }

    private Flux<Frame> subscribe(ClientMessage.Subscribe request) {
        String channel = request.channel();
        if (!Channels.ALL.contains(channel)) {
            return Flux.just(error("Unknown channel", channel));
        }
        Position cursor = null;
        if (request.resumeFrom() != null) {
            cursor = Position.fromCursor(request.resumeFrom());
            if (cursor == null) {
                return Flux.just(error("Invalid cursor", channel));
            }
        }
        Set<String> channels = new HashSet<>(subscribed);
        channels.add(channel);
        subscribed = Set.copyOf(channels);
        Flux<Frame> ack = Flux.just(control("subscribed", channel));
        if (cursor != null && !Channels.DATABASE.contains(channel)) {
            metrics.resyncs.increment();
            return ack.concatWithValues(control("resync_required", channel));
        }
        return cursor == null ? ack : ack.concatWith(resume(channel, cursor));
    }

    /**
     * Events of {@code channel} after {@code cursor} up to the hub's head, from the log; later ones
     * come live. Related events this connection already delivered are not sent twice.
     */
    private Flux<Frame> resume(String channel, Position cursor) {
        Position upTo = hub.head();
        Position deliveredThrough = lastProcessed;
        resumedThrough.merge(channel, upTo, Position::max);
        return Mono.zip(log.prunedThrough(), log.head()).flatMapMany(bounds -> {
            long pruned = bounds.getT1();
            boolean beforeRetained = pruned > 0 && cursor.commitSeq() <= pruned;
            boolean unknown = cursor.commitSeq() > bounds.getT2().commitSeq();
            if (beforeRetained || unknown) {
                metrics.resyncs.increment();
                return Flux.just(control("resync_required", channel));
            }
            if (!upTo.isAfter(cursor)) {
                return Flux.empty();
            }
            // Non-admins on a restricted channel read only their own events: the database never
            // walks the channel's whole log for them.
            ChangeLogReader.Filter filter = caller.admin() || Channels.OPEN.contains(channel)
                    ? ChangeLogReader.Filter.channel(channel, upTo)
                    : ChangeLogReader.Filter.relatedOn(channel, caller.id(), upTo);
            return log.after(cursor, filter)
                    .filter(event -> wants(event) && !(event.isRelatedTo(caller.id())
                            && event.position().isAfter(sessionStart) && !event.position().isAfter(deliveredThrough)))
                    .map(event -> new Frame(event.frame(), event.committedAt()));
        });
    }

    private Flux<Frame> unsubscribe(String channel) {
        if (!Channels.ALL.contains(channel)) {
            return Flux.just(error("Unknown channel", channel));
        }
        Set<String> channels = new HashSet<>(subscribed);
        channels.remove(channel);
        subscribed = Set.copyOf(channels);
        return Flux.just(control("unsubscribed", channel));
    }

    private Frame control(String type, String channel) {
        ObjectNode frame = json.createObjectNode();
        frame.put("type", type);
        if (channel != null) {
            frame.put("channel", channel);
        }
        return new Frame(json.writeValueAsBytes(frame), null);
    }

    private Frame error(String error, String channel) {
        ObjectNode frame = json.createObjectNode();
        frame.put("type", "error");
        frame.put("error", error);
        if (channel != null) {
            frame.put("channel", channel);
        }
        return new Frame(json.writeValueAsBytes(frame), null);
    }
}
