package io.fluxgate.changes.delivery;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import io.fluxgate.changes.capture.ChangeLog;
import io.fluxgate.changes.hub.ChangeEvent;
import io.fluxgate.changes.hub.Position;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;

/**
 * A change log in memory, for the session tests without a database: commits append to it, and each
 * read waits until the test releases it, so a test decides how reads interleave with live events.
 * (The real log's reads are tested against PostgreSQL; this one applies the same filter.)
 */
final class MemoryChangeLog implements ChangeLog {

    private final List<ChangeEvent> events = new CopyOnWriteArrayList<>();
    private final List<Sinks.Empty<Void>> waiting = new ArrayList<>();
    private boolean gated;

    /** @param gated whether reads wait for {@link #release}; otherwise they answer at once */
    MemoryChangeLog(boolean gated) {
        this.gated = gated;
    }

    void append(ChangeEvent event) {
        events.add(event);
    }

    List<ChangeEvent> events() {
        return List.copyOf(events);
    }

    /** Reads that have been asked for and not answered yet. */
    int waiting() {
        return waiting.size();
    }

    /** Answers the waiting read at {@code index} (it reads the log as it is now). */
    void release(int index) {
        waiting.remove(index).tryEmitEmpty();
    }

    /** From now on reads answer at once; the waiting ones too. */
    void ungate() {
        gated = false;
        while (!waiting.isEmpty()) {
            release(0);
        }
    }

    /** What waits for the test before it runs. */
    <T> Flux<T> whenReleased(Flux<T> read) {
        return Flux.defer(() -> {
            if (!gated) {
                return read;
            }
            Sinks.Empty<Void> gate = Sinks.empty();
            waiting.add(gate);
            return gate.asMono().thenMany(read);
        });
    }

    @Override
    public Flux<ChangeEvent> after(Position from, Filter filter) {
        return whenReleased(Flux.defer(() -> {
            List<ChangeEvent> read = new ArrayList<>();
            for (ChangeEvent event : events) {
                if (event.position().isAfter(from) && filter.accepts(event)) {
                    read.add(event);
                }
            }
            return Flux.fromIterable(read);
        }));
    }

    @Override
    public Mono<Position> head() {
        return Mono.fromSupplier(() -> events.isEmpty() ? Position.ORIGIN : events.get(events.size() - 1).position());
    }

    @Override
    public Mono<Long> prunedThrough() {
        return Mono.just(0L);
    }
}
