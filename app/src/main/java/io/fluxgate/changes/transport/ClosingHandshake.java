package io.fluxgate.changes.transport;

import java.time.Duration;
import java.util.concurrent.TimeUnit;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufHolder;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.util.AttributeKey;
import io.netty.util.ReferenceCountUtil;
import reactor.core.publisher.Mono;
import reactor.netty.NettyPipeline;

/**
 * The server's side of a WebSocket closing handshake (RFC 6455, 7.1.1), so the close code reaches an
 * ordinary client. The close frame goes out; from then on nothing the client sends is acted on, but
 * it is still read (and dropped) until the client's own close frame arrives, or a short bound passes,
 * and only then is the connection closed. Closing at once would leave the client's frames unread in
 * the server's receive buffer: the kernel then answers with a reset, and a client that has not yet
 * read the close frame loses it and sees 1006 (abnormal) instead of our code.
 *
 * <p>Reactor Netty's own {@code sendClose} closes the connection as soon as the frame is flushed,
 * so the frame is written here, with a handler in front of Reactor's bridge that swallows the rest.
 */
public final class ClosingHandshake {

    /** How long the client has to answer our close frame before the connection is closed anyway. */
    static final Duration ANSWER_WAIT = Duration.ofSeconds(3);
    /**
     * The most the server reads (and drops) after its close frame: a client that keeps sending past it
     * is cut off, reset and all, rather than read for the whole wait.
     */
    static final long DRAIN_LIMIT = 16L * 1024 * 1024;
    private static final String DRAIN = "fluxgate.closingHandshake";
    private static final String WATCH = "fluxgate.closeWatch";
    /** Set once any close frame went out on the connection, whoever wrote it. */
    private static final AttributeKey<Boolean> CLOSE_SENT = AttributeKey.valueOf("fluxgate.closeSent");

    private ClosingHandshake() {
    }

    /**
     * Sends the close frame (once per connection: a later call only waits) and completes when the
     * connection has closed. From any thread.
     */
    static Mono<Void> close(Channel channel, int code, String reason) {
        return close(channel, code, reason, false);
    }

    /**
     * As {@link #close(Channel, int, String)}, for a frame the decoder refused: the decoder goes (it
     * would drop what follows one byte at a time) and the rest is dropped a buffer at a time, up to
     * {@link #DRAIN_LIMIT}. No close frame of the client's can be told apart after it.
     */
    static Mono<Void> closeRefused(Channel channel, int code, String reason) {
        return close(channel, code, reason, true);
    }

    private static Mono<Void> close(Channel channel, int code, String reason, boolean refused) {
        return Mono.<Void>create(done -> {
            channel.closeFuture().addListener(closed -> done.success());
            channel.eventLoop().execute(() -> start(channel, code, reason, refused));
        });
    }

    /**
     * Notes every close frame written on the connection from now on, Reactor Netty's own included (it
     * answers a client's close frame itself), so a close that is already under way is not sent twice.
     */
    static void watch(Channel channel) {
        channel.eventLoop().execute(() -> {
            if (channel.isActive() && channel.pipeline().get(WATCH) == null) {
                channel.pipeline().addLast(WATCH, new CloseWatch());
            }
        });
    }

    private static void start(Channel channel, int code, String reason, boolean refused) {
        ChannelPipeline pipeline = channel.pipeline();
        if (refused && pipeline.get(FrameDecoding.DECODER) != null) {
            pipeline.remove(FrameDecoding.DECODER);
        }
        if (!channel.isActive() || pipeline.get(DRAIN) != null) {
            return;
        }
        if (Boolean.TRUE.equals(channel.attr(CLOSE_SENT).get())) {
            // A close frame is out already (Reactor answered the client's): whoever sent it closes the
            // connection; should it not, it is closed once the client had its time to answer.
            closeAfterTheAnswerWait(channel);
            return;
        }
        Drain drain = new Drain();
        if (pipeline.get(NettyPipeline.ReactiveBridge) != null) {
            pipeline.addBefore(NettyPipeline.ReactiveBridge, DRAIN, drain);
        } else {
            pipeline.addLast(DRAIN, drain);
        }
        channel.writeAndFlush(new CloseWebSocketFrame(code, reason));
        // Reactor reads only on demand; what is left of the client's frames must still be read.
        channel.config().setAutoRead(true);
        channel.read();
        closeAfterTheAnswerWait(channel);
    }

    private static void closeAfterTheAnswerWait(Channel channel) {
        var giveUp = channel.eventLoop().schedule(() -> {
            channel.close();
        }, ANSWER_WAIT.toNanos(), TimeUnit.NANOSECONDS);
        channel.closeFuture().addListener(closed -> giveUp.cancel(false));
    }

    private static final class CloseWatch extends ChannelOutboundHandlerAdapter {

        @Override
        public void write(ChannelHandlerContext ctx, Object message, ChannelPromise promise) {
            if (message instanceof CloseWebSocketFrame) {
                ctx.channel().attr(CLOSE_SENT).set(true);
            }
            ctx.write(message, promise);
        }
    }

    /**
     * After our close frame: drops what the client sends, and closes once its close frame comes, or
     * once more than {@link #DRAIN_LIMIT} bytes came (each message counting for at least 1 KiB).
     */
    private static final class Drain extends ChannelInboundHandlerAdapter {

        /** What a message counts for at least: a stream of empty frames is bounded too. */
        private static final int MESSAGE_AT_LEAST = 1024;
        private long drained;

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object message) {
            boolean answered = message instanceof CloseWebSocketFrame;
            int bytes = message instanceof ByteBufHolder holder ? holder.content().readableBytes()
                    : message instanceof ByteBuf buffer ? buffer.readableBytes() : 0;
            drained += Math.max(bytes, MESSAGE_AT_LEAST);
            ReferenceCountUtil.release(message);
            if (answered || drained > DRAIN_LIMIT) {
                ctx.close();
            }
        }
    }
}
