package io.fluxgate.web;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.concurrent.ScheduledFuture;

/**
 * Closes a connection that does not deliver a request's line and headers, or its body, within a
 * bound, however slowly it trickles them (an idle timeout alone is reset by every byte).
 *
 * <p>The header clock starts when the connection opens and, on a kept-alive connection, with the
 * first byte of each later request; it stops when the request's headers are decoded. The body clock
 * runs from there to the request's last content. Waiting between requests is the idle timeout's
 * business. An upgraded WebSocket leaves both for good, and a streaming response (Server-Sent
 * Events) is never timed: its request ended at once, and no new one is awaited meanwhile.
 *
 * <p>Two handlers share one state, on the connection's event loop: one in front of the HTTP codec
 * sees the raw bytes, one behind it sees decoded requests and the responses going out. (Reactor
 * Netty's own request timeout keeps running on a WebSocket upgraded from the request it timed.)
 */
final class RequestTimeouts {

    private static final String BEFORE_CODEC = "fluxgate.requestTimeouts.bytes";
    private static final String AFTER_CODEC = "fluxgate.requestTimeouts.requests";
    private static final byte[] HEADERS_TIMED_OUT = timedOut("The request's headers did not arrive in time");
    private static final byte[] BODY_TIMED_OUT = timedOut("The request's body did not arrive in time");

    private final long headerNanos;
    private final long bodyNanos;
    private ChannelHandlerContext raw;
    /**
     * One timer per connection, not one per request: starting and stopping a clock only moves its
     * deadline; the timer, when it fires, looks at the deadline and sleeps on if it moved.
     */
    private ScheduledFuture<?> timer;
    /** When the timer fires, and the running clock's deadline (both System.nanoTime()). */
    private long timerAt;
    private long deadline;
    private boolean running;
    /** Requests decoded whose responses have not yet finished: a byte now is not a new request's. */
    private int inFlight;
    /** A request's body is still arriving: its bytes are not a new request's, whatever was answered. */
    private boolean receivingBody;
    /** Bytes of a request not yet decoded have arrived. */
    private boolean partial;
    /** A response has begun and not yet ended: nothing may be written in front of the codec now. */
    private boolean responding;
    /** What the client hears when the running clock expires; null: nothing, the connection just closes. */
    private byte[] answer;

    private RequestTimeouts(long headerNanos, long bodyNanos) {
        this.headerNanos = headerNanos;
        this.bodyNanos = bodyNanos;
    }

    /** Installs the pair around the pipeline's HTTP codec, named {@code codec}; the header clock starts now. */
    static void install(ChannelPipeline pipeline, String codec, long headerNanos, long bodyNanos) {
        RequestTimeouts state = new RequestTimeouts(headerNanos, bodyNanos);
        Bytes bytes = state.new Bytes();
        pipeline.addBefore(codec, BEFORE_CODEC, bytes);
        pipeline.addAfter(codec, AFTER_CODEC, state.new Requests(bytes));
    }

    private void start(long nanos, byte[] answer) {
        this.answer = answer;
        deadline = System.nanoTime() + nanos;
        running = true;
        if (timer != null && timerAt - deadline > 0) {
            // Pending for a later deadline (a body's): this one is sooner.
            timer.cancel(false);
            timer = null;
        }
        if (timer == null) {
            schedule(nanos);
        }
    }

    private void schedule(long nanos) {
        timerAt = System.nanoTime() + nanos;
        timer = raw.executor().schedule(this::check, nanos, TimeUnit.NANOSECONDS);
    }

    private void stop() {
        running = false;
    }

    private void check() {
        timer = null;
        if (!running || !raw.channel().isActive()) {
            return;
        }
        long left = deadline - System.nanoTime();
        if (left > 0) {
            schedule(left);
        } else {
            expire();
        }
    }

    private void cancelTimer() {
        running = false;
        if (timer != null) {
            timer.cancel(false);
            timer = null;
        }
    }

    /**
     * A silent connection is just closed, as is one with a response under way (the answer would land
     * inside it); one waiting on the rest of its request hears why first, written in front of the
     * codec. A client that does not take even that is closed a moment later all the same.
     */
    private void expire() {
        running = false;
        if (answer == null || responding) {
            raw.close();
            return;
        }
        raw.writeAndFlush(Unpooled.wrappedBuffer(answer)).addListener(ChannelFutureListener.CLOSE);
        raw.executor().schedule(() -> {
            raw.close();
        }, 1, TimeUnit.SECONDS);
    }

    /** In front of the codec: the first byte of a new request starts the header clock. */
    private final class Bytes extends ChannelInboundHandlerAdapter {

        @Override
        public void handlerAdded(ChannelHandlerContext ctx) {
            raw = ctx;
            if (ctx.channel().isActive()) {
                start(headerNanos, null);
            }
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object message) {
            if (inFlight == 0 && !receivingBody && !partial && message instanceof ByteBuf bytes && bytes.isReadable()) {
                partial = true;
                if (!running) {
                    start(headerNanos, HEADERS_TIMED_OUT);
                } else {
                    // A header clock already runs (from the connection's opening): it keeps its deadline.
                    answer = HEADERS_TIMED_OUT;
                }
            }
            ctx.fireChannelRead(message);
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            cancelTimer();
            ctx.fireChannelInactive();
        }
    }

    /** Behind the codec: requests' heads and ends move the clocks; an upgrade ends them. */
    private final class Requests extends ChannelDuplexHandler {

        private final Bytes bytes;

        Requests(Bytes bytes) {
            this.bytes = bytes;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object message) {
            if (message instanceof HttpRequest request) {
                inFlight++;
                partial = false;
                stop();
                if (!(message instanceof LastHttpContent) && hasBody(request)) {
                    receivingBody = true;
                    start(bodyNanos, BODY_TIMED_OUT);
                }
            } else if (message instanceof LastHttpContent) {
                receivingBody = false;
                stop();
                if (inFlight == 0) {
                    // Answered before its body came (a 401, say): bytes of the next request may have
                    // come with the body's last ones, so its clock starts now.
                    partial = false;
                    start(headerNanos, null);
                }
            }
            ctx.fireChannelRead(message);
        }

        @Override
        public void write(ChannelHandlerContext ctx, Object message, ChannelPromise promise) {
            if (message instanceof HttpResponse head
                    && head.status().code() == HttpResponseStatus.SWITCHING_PROTOCOLS.code()) {
                // An upgrade (WebSocket): no more HTTP requests on this connection.
                cancelTimer();
                ctx.pipeline().remove(this);
                ctx.pipeline().remove(bytes);
            } else if (!(message instanceof HttpResponse interim && interim.status().code() < 200)) {
                // 100 Continue and the like precede the real response: they neither begin nor end one.
                if (message instanceof HttpResponse) {
                    responding = true;
                }
                if (message instanceof LastHttpContent) {
                    responding = false;
                    if (inFlight > 0 && --inFlight == 0 && !receivingBody) {
                        partial = false; // the next byte begins a new request and starts its clock
                    }
                }
            }
            ctx.write(message, promise);
        }

        @Override
        public void handlerRemoved(ChannelHandlerContext ctx) {
            cancelTimer();
        }
    }

    /** A request says it has a body by its length or its chunked encoding; a plain GET has none. */
    private static boolean hasBody(HttpRequest request) {
        return HttpUtil.getContentLength(request, 0L) > 0 || HttpUtil.isTransferEncodingChunked(request);
    }

    private static byte[] timedOut(String detail) {
        byte[] body = ("{\"type\":\"about:blank\",\"title\":\"Request Timeout\",\"status\":408,\"detail\":\"" + detail
                + "\"}").getBytes(StandardCharsets.UTF_8);
        String head = "HTTP/1.1 408 Request Timeout\r\nContent-Type: application/problem+json\r\n"
                + "Content-Length: " + body.length + "\r\nConnection: close\r\n\r\n";
        byte[] whole = new byte[head.length() + body.length];
        System.arraycopy(head.getBytes(StandardCharsets.US_ASCII), 0, whole, 0, head.length());
        System.arraycopy(body, 0, whole, head.length(), body.length);
        return whole;
    }
}
