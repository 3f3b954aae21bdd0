package io.fluxgate.support;

import java.util.List;
import java.util.concurrent.TimeUnit;

import de.bwaldvogel.mongo.backend.memory.MemoryBackend;
import de.bwaldvogel.mongo.bson.Document;
import de.bwaldvogel.mongo.wire.message.MongoMessage;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;

/**
 * The in-process MongoDB, waiting on an empty change-stream batch as a real server does.
 *
 * <p>A real MongoDB holds a {@code getMore} on a change stream (an awaitData cursor) until something
 * happens or a second passes. mongo-java-server answers at once with an empty batch, and the driver
 * asks again at once, inside its own code where no caller can pause it: an idle service and its
 * test contexts would spin a core each. Here an empty batch on a still-open cursor is held back for
 * a moment on the connection's event loop (nothing blocks; other connections go on), so the driver
 * asks a few times a second; an event committed meanwhile is in the next batch, so none is lost.
 */
final class AwaitingMemoryBackend extends MemoryBackend {

    private static final String HANDLER = "fluxgate-await-data";
    private static final long AWAIT_MILLIS = 250;

    @Override
    public Document handleCommand(Channel channel, String databaseName, String command, Document query) {
        // On the connection's event loop, before the answer is written: the handler sees it go out.
        if ("getMore".equalsIgnoreCase(command) && channel.pipeline().get(HANDLER) == null) {
            channel.pipeline().addLast(HANDLER, new HoldEmptyBatches());
        }
        return super.handleCommand(channel, databaseName, command, query);
    }

    private static final class HoldEmptyBatches extends ChannelOutboundHandlerAdapter {

        @Override
        public void write(ChannelHandlerContext ctx, Object message, ChannelPromise promise) {
            if (message instanceof MongoMessage reply && isEmptyOpenBatch(reply.getDocument())) {
                ctx.executor().schedule(() -> {
                    ctx.writeAndFlush(message, promise);
                }, AWAIT_MILLIS, TimeUnit.MILLISECONDS);
            } else {
                ctx.write(message, promise);
            }
        }

        private static boolean isEmptyOpenBatch(Document response) {
            return response != null && response.get("cursor") instanceof Document cursor
                    && cursor.get("nextBatch") instanceof List<?> batch && batch.isEmpty()
                    && cursor.get("id") instanceof Number id && id.longValue() != 0;
        }
    }
}
