package io.fluxgate.changes.transport;

import java.util.concurrent.atomic.AtomicIntegerFieldUpdater;

import io.fluxgate.changes.ChangeStreamMetrics;
import io.fluxgate.changes.delivery.DirectWriter;
import io.fluxgate.changes.delivery.Outbound;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundInvoker;
import io.netty.channel.ChannelPromise;
import io.netty.channel.EventLoop;
import io.netty.channel.VoidChannelPromise;
import io.netty.handler.codec.http.websocketx.PingWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketFrameEncoder;
import org.reactivestreams.Subscription;
import reactor.core.CoreSubscriber;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;

/**
 * Writes one WebSocket session's frames straight to its Netty channel, on the channel's event loop,
 * and flushes once per turn of the loop for every socket written to in that turn.
 *
 * <p>A change reaches all the sessions of one event loop in one task (the hub's shards). There its
 * frame is encoded once, as WebSocket bytes (a server's frames are not masked, so every socket sends
 * the same ones), and that one buffer is written to each socket below the pipeline's frame encoder;
 * when the task is done, each socket written to is flushed once. That is one system call per socket
 * per change and no queue, hand-off, copy or encoding per frame, which a general-purpose send path
 * (a queue, a drain and a flush per frame) cannot offer. A socket that stops taking data stops asking
 * its session for frames; the session's feed then buffers, and past its bound catches up later.
 */
public final class SocketWriter implements CoreSubscriber<Outbound>, DirectWriter {

    /** Frames asked for ahead; half as many more each time half of them are written. */
    static final int PREFETCH = 32;
    private static final int REPLENISH = PREFETCH / 2;

    private final Channel channel;
    private final EventLoop loop;
    private final LoopBatch batch;
    private final ChangeStreamMetrics metrics;
    /** For writes nobody waits on; a failed one fires no pipeline exception: the close ends the writer. */
    private final ChannelPromise unwatched;
    /** The session's close, empty when it ended without one (the client went away). */
    private final Sinks.One<Outbound.Close> finished = Sinks.one();
    private static final AtomicIntegerFieldUpdater<SocketWriter> QUEUED =
            AtomicIntegerFieldUpdater.newUpdater(SocketWriter.class, "queued");
    /** Writes handed to the loop as tasks and not run yet: later ones must queue behind them. */
    private volatile int queued;
    private volatile Subscription upstream;

    // Touched on the loop only.
    private int sinceRequest;
    private boolean dirty;
    /** Nothing more is written: the connection is closing or failed. */
    private boolean stopped;
    private Outbound.Close close;
    /** Where encoded frames enter the pipeline: below its frame encoder; the channel if it has none. */
    private ChannelOutboundInvoker encoded;

    SocketWriter(Channel channel, LoopBatch batch, ChangeStreamMetrics metrics) {
        this.channel = channel;
        this.loop = channel.eventLoop();
        this.batch = batch;
        this.metrics = metrics;
        this.unwatched = new VoidChannelPromise(channel, false);
    }

    /**
     * Writes {@code session}'s frames until it ends; completes, once the last one is written, with the
     * close it asked for (empty when there is none). Cancelling it cancels the session.
     */
    Mono<Outbound.Close> write(Flux<Outbound> session) {
        return Mono.defer(() -> {
            // A connection that goes away ends the session even while it has no frame to send (a
            // writer waiting on a full socket asks for none).
            channel.closeFuture().addListener(closed -> onLoop(this::gone));
            session.subscribe(this);
            return finished.asMono();
        }).doOnCancel(this::cancel);
    }

    /**
     * Writes nothing more and ends the session, for a close the transport sends itself (ping
     * timeout, a flooding client); the writer completes when the connection has closed. From any
     * thread.
     */
    void stop() {
        onLoop(() -> {
            stopped = true;
            cancel();
        });
    }

    /** The connection is closed: nothing more to write, and the writer completes. */
    private void gone() {
        stopped = true;
        cancel();
        finished.tryEmitEmpty();
    }

    /** Sends a ping frame; from any thread. */
    void ping() {
        onLoop(() -> {
            if (!stopped && channel.isActive()) {
                channel.write(new PingWebSocketFrame(), unwatched);
                markDirty();
            }
        });
    }

    @Override
    public void onSubscribe(Subscription subscription) {
        upstream = subscription;
        subscription.request(PREFETCH);
    }

    @Override
    public void onNext(Outbound out) {
        onLoop(() -> send(out, true));
    }

    @Override
    public boolean ready() {
        return loop.inEventLoop() && queued == 0 && !stopped && close == null && channel.isWritable();
    }

    @Override
    public void write(Outbound.Frame frame) {
        send(frame, false);
    }

    @Override
    public void onError(Throwable failure) {
        onLoop(() -> {
            // Nothing follows the session's last frame, pings included: a close frame comes next.
            stopped = true;
            channel.flush();
            finished.tryEmitError(failure);
        });
    }

    @Override
    public void onComplete() {
        onLoop(() -> {
            stopped = true;
            channel.flush();
            if (close == null) {
                finished.tryEmitEmpty();
            } else {
                finished.tryEmitValue(close);
            }
        });
    }

    /**
     * @param asked whether the session's stream produced it against this writer's demand (a direct
     *        write did not, and asks for nothing in return)
     */
    private void send(Outbound out, boolean asked) {
        if (stopped) {
            return;
        }
        if (out instanceof Outbound.Close closing) {
            close = closing;
            return;
        }
        if (!channel.isActive()) {
            gone();
            return;
        }
        Outbound.Frame frame = (Outbound.Frame) out;
        if (encoded == null) {
            ChannelHandlerContext encoder = channel.pipeline().context(WebSocketFrameEncoder.class);
            encoded = encoder == null ? channel : encoder;
        }
        ByteBuf message;
        try {
            message = batch.encoded(frame.json(), channel.alloc());
        } catch (RuntimeException | OutOfMemoryError failure) {
            // This session only: the loop's other sessions still get the change.
            stopped = true;
            cancel();
            finished.tryEmitError(failure);
            channel.close();
            return;
        }
        if (!asked || ++sinceRequest < REPLENISH) {
            encoded.write(message, unwatched);
        } else {
            sinceRequest = 0;
            ChannelFuture written = encoded.write(message);
            if (channel.isWritable()) {
                upstream.request(REPLENISH);
            } else {
                // Above Netty's high-water mark: ask for more once this frame has reached the socket.
                written.addListener(done -> {
                    if (done.isSuccess()) {
                        upstream.request(REPLENISH);
                    } else {
                        channel.close(); // and its close future stops the writer
                    }
                });
            }
        }
        markDirty();
        if (frame.committedAt() != null) {
            metrics.sent(frame.committedAt());
        }
    }

    private void cancel() {
        Subscription subscription = upstream;
        if (subscription != null) {
            subscription.cancel();
        }
    }

    /** Runs {@code task} on the loop, after every task handed over before it. */
    private void onLoop(Runnable task) {
        if (queued == 0 && loop.inEventLoop()) {
            task.run();
            return;
        }
        QUEUED.incrementAndGet(this);
        loop.execute(() -> {
            try {
                task.run();
            } finally {
                QUEUED.decrementAndGet(this);
            }
        });
    }

    private void markDirty() {
        if (!dirty) {
            dirty = true;
            batch.add(this);
        }
    }

    /** The loop's batch flushes it: nothing written to it since is left unflushed. */
    void flushBatched() {
        dirty = false;
        channel.flush();
    }
}
