package io.fluxgate.changes;

import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.ThreadLocalRandom;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;

import org.springframework.stereotype.Component;

/** The change stream's numbers, under {@code fluxgate.changes.*} in Micrometer. */
@Component
public class ChangeStreamMetrics {

    static final int LAG_SAMPLE = 16;

    public final AtomicInteger sessions = new AtomicInteger();
    public final AtomicInteger replaying = new AtomicInteger();
    public final Counter eventsIn;
    final Counter framesOut;
    public final Counter resyncs;
    public final Counter overflows;
    public final Counter listenerReconnects;
    /** Live frames a session wrote at once, with nothing waiting before them (see ChangeSession.deliverNow). */
    public final Counter framesDirect;
    private final Timer lag;
    private final Timer captureLag;

    public ChangeStreamMetrics(MeterRegistry registry) {
        Gauge.builder("fluxgate.changes.sessions", sessions, AtomicInteger::get)
                .description("Open change-stream sessions, WebSocket and SSE").register(registry);
        Gauge.builder("fluxgate.changes.sessions.replaying", replaying, AtomicInteger::get)
                .description("Sessions reading the change log instead of the live stream").register(registry);
        eventsIn = Counter.builder("fluxgate.changes.events.in")
                .description("Committed changes read from the change log into the hub").register(registry);
        framesOut = Counter.builder("fluxgate.changes.frames.out")
                .description("database_change frames sent to clients").register(registry);
        resyncs = Counter.builder("fluxgate.changes.resyncs")
                .description("resync_required frames sent").register(registry);
        overflows = Counter.builder("fluxgate.changes.overflows")
                .description("Sessions that outgrew their buffer and fell back to the change log").register(registry);
        listenerReconnects = Counter.builder("fluxgate.changes.listener.reconnects")
                .description("Times the LISTEN connection was re-established").register(registry);
        framesDirect = Counter.builder("fluxgate.changes.frames.direct")
                .description("database_change frames written at once from the hub's task, without the session's serial step")
                .register(registry);
        lag = Timer.builder("fluxgate.changes.lag")
                .description("Commit to frame handed to the socket")
                .publishPercentiles(0.5, 0.95, 0.99)
                .register(registry);
        captureLag = Timer.builder("fluxgate.changes.capture.lag")
                .description("Commit to change published in the hub (read from the log, ready to fan out)")
                .publishPercentiles(0.5, 0.95, 0.99)
                .register(registry);
    }

    /** Counts a change published in the hub, and how long after its commit that was. */
    public void published(Instant committedAt) {
        eventsIn.increment();
        if (committedAt != null) {
            captureLag.record(Duration.between(committedAt, Instant.now()));
        }
    }

    /**
     * Counts a frame handed to a socket. The lag of one frame in {@value #LAG_SAMPLE} is recorded:
     * at 100,000 frames per second a histogram update per frame is measurable CPU, and a sample keeps
     * the percentiles just as true.
     */
    public void sent(Instant committedAt) {
        framesOut.increment();
        // Chosen at random per thread: a shared sample counter is a cache line every event loop writes.
        if (ThreadLocalRandom.current().nextInt(LAG_SAMPLE) == 0) {
            lag.record(Duration.between(committedAt, Instant.now()));
        }
    }
}
