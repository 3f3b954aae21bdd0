package io.fluxgate.changes.delivery;

import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicIntegerFieldUpdater;
import java.util.concurrent.atomic.AtomicLongFieldUpdater;
import java.util.function.Function;

import org.reactivestreams.Publisher;
import org.reactivestreams.Subscription;
import reactor.core.CoreSubscriber;
import reactor.core.Fuseable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Operators;

/**
 * A session's serial step: the inputs of its sources (the client's messages, its feed's events, its
 * live-only channels' events) are taken in as they arrive and handled one at a time, in that order;
 * the frames of each handling are passed on in order, at the pace the transport asks for them, before
 * the next input is handled.
 *
 * <p>It ends when the first source (the client's messages) completes, when a handling yields a
 * close (passed on, then the end), when anything fails, or at once with {@link #end}, whatever runs.
 * It is one object where a merge, a concatMap and the operators that ended them were a chain each
 * idle session held; it can be subscribed to once.
 */
final class SerialStep extends Flux<Outbound> implements Subscription {

    /** A source and how many of its inputs may wait here at once. */
    record Source(Publisher<? extends SessionInput> inputs, int prefetch) {
    }

    private record Taken(Input from, SessionInput input) {
    }

    private static final SessionInput END_OF_MESSAGES = new ClientMessage.Closed();

    private static final AtomicIntegerFieldUpdater<SerialStep> WIP =
            AtomicIntegerFieldUpdater.newUpdater(SerialStep.class, "wip");
    private static final AtomicIntegerFieldUpdater<SerialStep> WAITING =
            AtomicIntegerFieldUpdater.newUpdater(SerialStep.class, "waiting");
    private static final AtomicLongFieldUpdater<SerialStep> REQUESTED =
            AtomicLongFieldUpdater.newUpdater(SerialStep.class, "requested");

    private final Function<SessionInput, Publisher<Outbound>> handler;
    private final Runnable onEnd;
    private final Queue<Taken> inputs = new ConcurrentLinkedQueue<>();
    private volatile int wip;
    /** Inputs taken in whose handling has not finished. */
    private volatile int waiting;
    private volatile long requested;
    private volatile Outbound.Close ending;
    private volatile Throwable failure;
    private volatile boolean cancelled;
    private final Input[] subscribed;
    private CoreSubscriber<? super Outbound> actual;

    // Touched in the drain loop only.
    private long emitted;
    private Handling current;
    private boolean finished;

    /**
     * @param handler what an input becomes; it may throw, which fails the step
     * @param onEnd run once, however the step ends (completed, failed or cancelled)
     */
    SerialStep(List<Source> sources, Function<SessionInput, Publisher<Outbound>> handler, Runnable onEnd) {
        this.handler = handler;
        this.onEnd = onEnd;
        this.subscribed = new Input[sources.size()];
        for (int i = 0; i < subscribed.length; i++) {
            subscribed[i] = new Input(sources.get(i), i == 0);
        }
    }

    @Override
    public void subscribe(CoreSubscriber<? super Outbound> subscriber) {
        if (actual != null) {
            Operators.error(subscriber, new IllegalStateException("a session's serial step runs once"));
            return;
        }
        actual = subscriber;
        subscriber.onSubscribe(this);
        for (Input input : subscribed) {
            // One that ended it during onSubscribe (an end asked for earlier) leaves the rest unread.
            if (!input.cancelled) {
                input.start();
            }
        }
    }

    /** Nothing taken in is waiting or being handled: a live event may be written at once. */
    boolean idle() {
        return waiting == 0;
    }

    /** Ends the step with {@code close} as soon as the transport asks for a frame, cutting short what runs. */
    void end(Outbound.Close close) {
        if (ending == null) {
            ending = close;
        }
        drain();
    }

    @Override
    public void request(long n) {
        if (Operators.validate(n)) {
            Operators.addCap(REQUESTED, this, n);
            drain();
        }
    }

    @Override
    public void cancel() {
        cancelled = true;
        drain();
    }

    private void drain() {
        if (WIP.getAndIncrement(this) != 0) {
            return;
        }
        int missed = 1;
        for (;;) {
            if (!finished) {
                if (cancelled) {
                    stop();
                    finished = true;
                    onEnd.run();
                } else {
                    step();
                }
            }
            missed = WIP.addAndGet(this, -missed);
            if (missed == 0) {
                return;
            }
        }
    }

    /** Passes on what it can: an end if one is due, else the current handling's frames, then the next inputs. */
    private void step() {
        for (;;) {
            if (cancelled) {
                return; // the drain loop stops everything next
            }
            // An end asked for goes first: an error that follows (a source or handling failing as it
            // is cancelled) must not turn the client's close code into an abort.
            Outbound.Close close = ending;
            if (close != null) {
                stop();
                if (requested != emitted) {
                    finish(close, null);
                }
                return;
            }
            Throwable failed = failure;
            if (failed != null) {
                stop();
                finish(null, failed);
                return;
            }
            Handling handling = current;
            if (handling != null) {
                while (requested != emitted && !cancelled) {
                    Outbound out = handling.frames.poll();
                    if (out == null) {
                        break;
                    }
                    if (out instanceof Outbound.Close closing) {
                        stop();
                        finish(closing, null);
                        return;
                    }
                    emitted++;
                    actual.onNext(out);
                    handling.more();
                }
                if (!handling.done || !handling.frames.isEmpty()) {
                    return;
                }
                current = null;
                WAITING.decrementAndGet(this);
            }
            Taken next = inputs.poll();
            if (next == null) {
                return;
            }
            next.from().more();
            if (next.input() == END_OF_MESSAGES) {
                stop();
                finish(null, null);
                return;
            }
            try {
                current = handle(handler.apply(next.input()));
            } catch (Throwable unforeseen) {
                stop();
                finish(null, unforeseen);
                return;
            }
        }
    }

    /** A handling's frames; one that is a plain value or none is taken without subscribing to it. */
    private Handling handle(Publisher<Outbound> out) throws Exception {
        Handling handling = new Handling();
        if (out instanceof Fuseable.ScalarCallable<?> scalar) {
            Object value = scalar.call();
            if (value != null) {
                handling.frames.offer((Outbound) value);
            }
            handling.done = true;
            return handling;
        }
        out.subscribe(handling);
        return handling;
    }

    private void finish(Outbound.Close close, Throwable failed) {
        finished = true;
        if (close != null) {
            emitted++;
            actual.onNext(close);
        }
        if (failed != null) {
            actual.onError(failed);
        } else {
            actual.onComplete();
        }
        onEnd.run();
    }

    /** Cancels the current handling and every source; what waited is let go. */
    private void stop() {
        Handling handling = current;
        current = null;
        if (handling != null) {
            handling.cancel();
        }
        for (Input input : subscribed) {
            input.cancel();
        }
        inputs.clear();
    }

    /**
     * One subscription of the step's: a first amount asked for, then one more at a time; once
     * cancelled, for good (a failure arriving after that is dropped, not the step's).
     */
    private abstract class Upstream<T> implements CoreSubscriber<T> {

        private final int first;
        private volatile Subscription subscription;
        volatile boolean cancelled;

        Upstream(int first) {
            this.first = first;
        }

        @Override
        public void onSubscribe(Subscription s) {
            subscription = s;
            if (cancelled) {
                s.cancel();
            } else {
                s.request(first);
            }
        }

        @Override
        public void onError(Throwable error) {
            if (cancelled) {
                Operators.onErrorDropped(error, currentContext());
                return;
            }
            if (failure == null) {
                failure = error;
            }
            drain();
        }

        /** One of its items was taken: it may hand over one more. */
        void more() {
            Subscription s = subscription;
            if (s != null && !cancelled) {
                s.request(1);
            }
        }

        void cancel() {
            cancelled = true;
            Subscription s = subscription;
            if (s != null) {
                s.cancel();
            }
        }
    }

    /** One source's subscriber: what it hands over waits in the step's queue, in arrival order. */
    private final class Input extends Upstream<SessionInput> {

        private final boolean endsSession;
        /** Until subscribed to: then let go, so an idle session does not keep its assembly. */
        private Publisher<? extends SessionInput> source;

        Input(Source source, boolean endsSession) {
            super(source.prefetch());
            this.source = source.inputs();
            this.endsSession = endsSession;
        }

        void start() {
            Publisher<? extends SessionInput> inputs = source;
            source = null;
            inputs.subscribe(this);
        }

        @Override
        public void onNext(SessionInput input) {
            WAITING.incrementAndGet(SerialStep.this);
            inputs.offer(new Taken(this, input));
            drain();
        }

        @Override
        public void onComplete() {
            if (endsSession) {
                onNext(END_OF_MESSAGES);
            }
        }
    }

    /** The subscriber of one handling's frames: one asked for at a time, each passed on in turn. */
    private final class Handling extends Upstream<Outbound> {

        final Queue<Outbound> frames = new ConcurrentLinkedQueue<>();
        /** It completed or failed (a failure is the step's, see {@link Upstream#onError}). */
        volatile boolean done;

        Handling() {
            super(1);
        }

        @Override
        public void onNext(Outbound frame) {
            frames.offer(frame);
            drain();
        }

        @Override
        public void onError(Throwable error) {
            done = true;
            super.onError(error);
        }

        @Override
        public void onComplete() {
            done = true;
            drain();
        }
    }
}
