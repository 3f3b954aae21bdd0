package io.fluxgate.cache;

import java.time.Duration;
import java.util.function.Supplier;

import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * Runs a task every interval, one run at a time; a tick that comes while a run is still going is
 * skipped, not queued. The task must not fail (a failure would end the schedule): callers turn their
 * errors into values or log them.
 */
public final class PeriodicTask {

    private final Duration interval;
    private final Supplier<Mono<?>> task;
    private volatile Disposable worker;

    public PeriodicTask(Duration interval, Supplier<Mono<?>> task) {
        this.interval = interval;
        this.task = task;
    }

    public void start() {
        worker = Flux.interval(interval, interval)
                .onBackpressureDrop()
                .concatMap(tick -> task.get(), 1)
                .subscribe();
    }

    /** Stops the schedule; a run in progress is cancelled. */
    public void stop() {
        Disposable current = worker;
        if (current != null) {
            current.dispose();
        }
    }

    public boolean isRunning() {
        Disposable current = worker;
        return current != null && !current.isDisposed();
    }
}
