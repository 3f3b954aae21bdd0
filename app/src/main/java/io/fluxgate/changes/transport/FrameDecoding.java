package io.fluxgate.changes.transport;

import io.fluxgate.changes.delivery.Outbound;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.codec.http.websocketx.CorruptedWebSocketFrameException;
import io.netty.handler.codec.http.websocketx.WebSocket13FrameDecoder;
import io.netty.handler.codec.http.websocketx.WebSocketCloseStatus;
import io.netty.handler.codec.http.websocketx.WebSocketDecoderConfig;

/**
 * How a socket's frames are decoded: as the handshake sets it up (masked frames, payloads of at most
 * {@value #MAX_FRAME_PAYLOAD} bytes), except for what happens to a frame it refuses, too large or
 * malformed. Netty's decoder would answer with a close frame and close the connection at once, with
 * the rest of the client's frame unread: the kernel then resets the connection, and a client still
 * writing its frame fails with the reset and never reads the close frame. Here the decoder only
 * refuses, and the connection closes through {@link ClosingHandshake#closeRefused}, which reads (and
 * drops) the rest first, within a bound.
 */
final class FrameDecoding {

    /** The largest payload a client frame, or a message of fragments, may carry (the handshake is given it too). */
    static final int MAX_FRAME_PAYLOAD = 64 * 1024;
    /** The decoder's name in the pipeline, as the handshake names it. */
    static final String DECODER = "wsdecoder";
    private static final String REFUSALS = "fluxgate.refusals";
    private static final Outbound.Close TOO_LARGE = new Outbound.Close(1009, "frame too large");

    private FrameDecoding() {
    }

    /**
     * Puts the refusing decoder in place of the handshake's, with a watch behind it that starts the
     * close as soon as it refuses a frame (the session may no longer be reading its errors). Called on
     * the channel's loop right after the handshake, before the client can have sent a frame: a frame
     * the old decoder had half read would be misread by the new one.
     */
    static void refuseWithoutClosing(Channel channel) {
        ChannelHandler current = channel.pipeline().get(DECODER);
        if (current instanceof WebSocket13FrameDecoder && channel.pipeline().get(REFUSALS) == null) {
            channel.pipeline().replace(DECODER, DECODER, new WebSocket13FrameDecoder(WebSocketDecoderConfig.newBuilder()
                    .maxFramePayloadLength(MAX_FRAME_PAYLOAD)
                    .expectMaskedFrames(true)
                    .allowMaskMismatch(false)
                    .allowExtensions(true)
                    .closeOnProtocolViolation(false)
                    .build()));
            channel.pipeline().addAfter(DECODER, REFUSALS, new Refusals());
        }
    }

    /**
     * The close a refused frame or message calls for ({@code failure} or one of its causes), or null
     * when it is something else. For a frame the decoder refused, its watch has started that close
     * already, with the decoder taken out.
     */
    static Outbound.Close refused(Throwable failure) {
        for (Throwable cause = failure; cause != null; cause = cause.getCause()) {
            if (cause instanceof CorruptedWebSocketFrameException corrupted) {
                return closeFor(corrupted);
            }
            if (cause instanceof TooLongFrameException) {
                // A message of fragments longer than the bound, refused by the aggregator behind a
                // decoder that still reads: the client's close frame can still be told.
                return TOO_LARGE;
            }
        }
        return null;
    }

    /** 1009 for a frame too large; otherwise the decoder's own code (1002, or 1007 for text that is not UTF-8). */
    private static Outbound.Close closeFor(CorruptedWebSocketFrameException corrupted) {
        WebSocketCloseStatus status = corrupted.closeStatus();
        if (status.code() == WebSocketCloseStatus.MESSAGE_TOO_BIG.code()) {
            return TOO_LARGE;
        }
        return new Outbound.Close(status.code(), status.code() == WebSocketCloseStatus.INVALID_PAYLOAD_DATA.code()
                ? "invalid payload" : "protocol error");
    }

    /** Right behind the decoder: a refused frame starts the closing handshake at once. */
    private static final class Refusals extends ChannelInboundHandlerAdapter {

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            if (cause instanceof CorruptedWebSocketFrameException corrupted) {
                Outbound.Close close = closeFor(corrupted);
                ClosingHandshake.closeRefused(ctx.channel(), close.code(), close.reason()).subscribe();
            }
            ctx.fireExceptionCaught(cause);
        }
    }
}
