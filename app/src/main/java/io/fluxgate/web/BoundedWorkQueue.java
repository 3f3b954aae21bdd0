package io.fluxgate.web;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;

import reactor.core.Disposable;
import reactor.core.publisher.Mono;
import reactor.core.publisher.MonoSink;
import reactor.core.publisher.Sinks;
import reactor.core.scheduler.Schedulers;

/**
 * Runs at most {@code concurrency} units of work at once; up to {@code maxQueued} more wait their
 * turn in arrival order, each for at most {@code maxWait} (a timer answers it when the wait runs
 * out, even if nothing ahead of it moves). Past either bound the work is refused with a 503 and
 * {@code Retry-After}, before it starts. A burst therefore queues in memory, holding no connection,
 * instead of every request timing out on the pool at once.
 *
 * <p>Work that has started runs to its end even if its client goes away: for a transaction that is
 * the only safe place to stop.
 */
public final class BoundedWorkQueue implements Disposable {

    private static final int WAITING = 0;
    private static final int STARTED = 1;
    private static final int GONE = 2;

    private record Task<T>(Mono<T> work, MonoSink<T> sink, AtomicInteger state) {
    }

    private final String what;
    private final int maxQueued;
    private final Duration maxWait;
    private final Duration retryAfter;
    private final Sinks.Many<Task<?>> tasks = Sinks.many().unicast().onBackpressureBuffer();
    /** Tasks in the buffer, including ones already answered that the worker has not reached yet. */
    private final AtomicInteger queued = new AtomicInteger();
    private final Disposable worker;

    /** @param what names the work in the 503's detail, such as {@code "transfers"} */
    public BoundedWorkQueue(String what, int concurrency, int maxQueued, Duration maxWait) {
        this.what = what;
        this.maxQueued = maxQueued;
        this.maxWait = maxWait;
        this.retryAfter = Duration.ofSeconds(Math.max(1, maxWait.toSeconds() / 2));
        this.worker = tasks.asFlux().flatMap(this::execute, concurrency).subscribe();
    }

    /** The work's result, once it has had its turn; 503 when the queue is full or the wait too long. */
    public <T> Mono<T> submit(Mono<T> work) {
        return Mono.create(sink -> {
            if (queued.incrementAndGet() > maxQueued) {
                queued.decrementAndGet();
                sink.error(busy());
                return;
            }
            Task<T> task = new Task<>(work, sink, new AtomicInteger(WAITING));
            Disposable expiry = Schedulers.parallel().schedule(() -> {
                if (task.state().compareAndSet(WAITING, GONE)) {
                    sink.error(busy());
                }
            }, maxWait.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
            sink.onCancel(() -> task.state().compareAndSet(WAITING, GONE));
            sink.onDispose(expiry);
            Sinks.EmitResult result;
            // Many request threads submit at once; the sink takes one emitter at a time.
            synchronized (tasks) {
                result = tasks.tryEmitNext(task);
            }
            if (result.isFailure()) {
                queued.decrementAndGet();
                expiry.dispose();
                sink.error(busy());
            }
        });
    }

    /** Requests waiting their turn now (answered ones included until the worker passes them). */
    public int queued() {
        return queued.get();
    }

    private <T> Mono<Void> execute(Task<T> task) {
        queued.decrementAndGet();
        if (!task.state().compareAndSet(WAITING, STARTED)) {
            return Mono.empty();
        }
        return task.work()
                .doOnNext(task.sink()::success)
                .doOnSuccess(value -> {
                    if (value == null) {
                        task.sink().success();
                    }
                })
                .doOnError(task.sink()::error)
                .onErrorResume(error -> Mono.empty())
                .then();
    }

    private ApiException busy() {
        return ApiException.unavailable("Too many " + what + " are waiting; try again shortly", retryAfter);
    }

    @Override
    public void dispose() {
        worker.dispose();
    }

    @Override
    public boolean isDisposed() {
        return worker.isDisposed();
    }
}
