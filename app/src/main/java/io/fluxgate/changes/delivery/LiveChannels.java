package io.fluxgate.changes.delivery;

import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicBoolean;

import io.fluxgate.changes.ChangeStreamMetrics;
import io.fluxgate.changes.hub.Channels;
import io.fluxgate.changes.hub.LiveChangeSource;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Sinks;
import reactor.core.scheduler.Schedulers;

/**
 * A session's live-only channels (those with no log, such as MongoDB profiles): which of them it
 * subscribes to, and their events as session inputs. Nothing is replayed on these channels; a
 * session that reads too slowly loses some and is told ({@link SessionInput.LiveDropped}).
 */
final class LiveChannels {

    private final List<LiveChangeSource> sources;
    private final ChangeStreamMetrics metrics;
    /** Read by the sources' threads; replaced, never mutated. */
    private volatile Set<String> subscribed = Set.of();
    /** Fired when a live-only channel is first followed: until then no source is subscribed to. */
    private final Sinks.Empty<Void> firstFollowed = Sinks.empty();

    LiveChannels(List<LiveChangeSource> sources, ChangeStreamMetrics metrics) {
        this.sources = sources;
        this.metrics = metrics;
    }

    /** The live-only channels among {@code subscriptions}' channels. */
    void follow(Collection<Subscription> subscriptions) {
        Set<String> live = new HashSet<>();
        for (Subscription subscription : subscriptions) {
            if (!Channels.DATABASE.contains(subscription.channel())) {
                live.add(subscription.channel());
            }
        }
        subscribed = Set.copyOf(live);
        if (!live.isEmpty()) {
            firstFollowed.tryEmitEmpty();
        }
    }

    boolean contains(String channel) {
        return subscribed.contains(channel);
    }

    Set<String> subscribed() {
        return subscribed;
    }

    /**
     * Events of the followed channels; past what the session takes in, a drop and then a note of it.
     * The sources are joined only once the session first follows one of their channels: most sessions
     * never do, and a subscription to every source costs heap on each of them. Handed over on
     * {@code executor} (the session's event loop, where its live changes may be written directly), so
     * the session's state is never touched from a source's thread at the same time; null: as they come.
     */
    Flux<SessionInput> inputs(Executor executor) {
        return firstFollowed.asMono().thenMany(Flux.defer(() -> fromSources(executor)));
    }

    private Flux<SessionInput> fromSources(Executor executor) {
        Flux<SessionInput> all = Flux.fromIterable(sources).flatMap(source -> {
            AtomicBoolean dropped = new AtomicBoolean();
            return source.events()
                    .filter(event -> subscribed.contains(source.channel()))
                    .onBackpressureDrop(event -> {
                        dropped.set(true);
                        metrics.overflows.increment();
                    })
                    .flatMapIterable(event -> dropped.getAndSet(false)
                            ? List.of(new SessionInput.LiveDropped(source.channel()), new SessionInput.Change(event))
                            : List.of(new SessionInput.Change(event)));
        });
        return executor == null ? all : all.publishOn(Schedulers.fromExecutor(executor), 1);
    }
}
