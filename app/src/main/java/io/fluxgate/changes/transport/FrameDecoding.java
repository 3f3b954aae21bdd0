package io.fluxgate.changes.transport;

import io.fluxgate.changes.delivery.Outbound;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
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
 * refuses, and the session closes through {@link ClosingHandshake#closeRefused}, which reads (and
 * drops) the rest first, within a bound.
 */
final class FrameDecoding {

    /** The largest payload a client frame (or message) may carry, as the handshake's own default. */
    static final int MAX_FRAME_PAYLOAD = 64 * 1024;
    /** The decoder's name in the pipeline, as the handshake names it. */
    static final String DECODER = "wsdecoder";

    private FrameDecoding() {
    }

    /** Puts the refusing decoder in place of the handshake's; on the channel's loop, before any frame is read. */
    static void refuseWithoutClosing(Channel channel) {
        ChannelHandler current = channel.pipeline().get(DECODER);
        if (current instanceof WebSocket13FrameDecoder) {
            channel.pipeline().replace(DECODER, DECODER, new WebSocket13FrameDecoder(WebSocketDecoderConfig.newBuilder()
                    .maxFramePayloadLength(MAX_FRAME_PAYLOAD)
                    .expectMaskedFrames(true)
                    .allowMaskMismatch(false)
                    .allowExtensions(true)
                    .closeOnProtocolViolation(false)
                    .build()));
        }
    }

    /**
     * The close a refused frame calls for (1009 for one too large, 1002 for a malformed one), or
     * null when {@code failure} is not a refused frame.
     */
    static Outbound.Close refused(Throwable failure) {
        for (Throwable cause = failure; cause != null; cause = cause.getCause()) {
            if (cause instanceof CorruptedWebSocketFrameException corrupted) {
                WebSocketCloseStatus status = corrupted.closeStatus();
                return status.code() == WebSocketCloseStatus.MESSAGE_TOO_BIG.code()
                        ? TOO_LARGE
                        : new Outbound.Close(WebSocketCloseStatus.PROTOCOL_ERROR.code(), "protocol error");
            }
            if (cause instanceof TooLongFrameException) {
                // A message of continuation frames longer than the bound, refused by the aggregator.
                return TOO_LARGE;
            }
        }
        return null;
    }

    private static final Outbound.Close TOO_LARGE = new Outbound.Close(1009, "frame too large");
}
