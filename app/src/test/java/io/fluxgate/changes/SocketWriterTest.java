package io.fluxgate.changes;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocket13FrameEncoder;
import org.junit.jupiter.api.Test;

class SocketWriterTest {

    /** The frame written below the encoder is byte for byte what Netty's own server encoder makes. */
    @Test
    void aTextFrameIsEncodedAsNettysServerEncoderEncodesIt() {
        for (int length : new int[] {0, 1, 125, 126, 127, 600, 65_535, 65_536, 70_000}) {
            byte[] payload = new byte[length];
            Arrays.fill(payload, (byte) 'x');
            ByteBuf ours = SocketWriter.textFrame(payload, ByteBufAllocator.DEFAULT);
            ByteBuf netty = nettyEncoding(payload);
            assertThat(ByteBufUtil.equals(ours, netty)).as("frame of %d bytes", length).isTrue();
            ours.release();
            netty.release();
        }
    }

    private static ByteBuf nettyEncoding(byte[] payload) {
        EmbeddedChannel channel = new EmbeddedChannel(new WebSocket13FrameEncoder(false));
        channel.writeOutbound(new TextWebSocketFrame(Unpooled.wrappedBuffer(payload)));
        ByteBuf all = Unpooled.buffer();
        for (ByteBuf part; (part = channel.readOutbound()) != null; ) {
            all.writeBytes(part);
            part.release();
        }
        channel.finishAndReleaseAll();
        return all;
    }
}
