package io.fluxgate.changes.transport;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

import io.fluxgate.changes.ChangeStreamMetrics;
import io.fluxgate.changes.delivery.Outbound;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.channel.DefaultEventLoop;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocket13FrameEncoder;
import org.junit.jupiter.api.Test;
import reactor.test.publisher.TestPublisher;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The writer over Netty's in-memory channel. The loop's shared work (the flush once its task is done)
 * goes to a task queue the test runs when it chooses: the in-memory channel runs its own queue on
 * every write, which no real event loop does.
 */
class SocketWriterTest {

    private final ChangeStreamMetrics metrics = new ChangeStreamMetrics(new SimpleMeterRegistry());
    /** Stands for the event loop's queue of shared work. */
    private final EmbeddedChannel loop = new EmbeddedChannel();

    @Test
    void framesLeaveBelowTheEncoderInOrderFlushedWhenTheLoopsTaskIsDoneAndTheCloseComesLast() {
        List<Object> throughTheEncoder = new ArrayList<>();
        EmbeddedChannel channel = new EmbeddedChannel(new WebSocket13FrameEncoder(false),
                new ChannelOutboundHandlerAdapter() {
                    @Override
                    public void write(ChannelHandlerContext ctx, Object message, ChannelPromise promise) {
                        throughTheEncoder.add(message);
                        ctx.write(message, promise);
                    }
                });
        SocketWriter writer = new SocketWriter(channel, new LoopBatch(loop.eventLoop()), metrics);
        TestPublisher<Outbound> session = TestPublisher.create();
        AtomicReference<Outbound.Close> close = new AtomicReference<>();
        AtomicBoolean finished = new AtomicBoolean();
        writer.write(session.flux()).subscribe(close::set, failure -> { }, () -> finished.set(true));

        byte[] change = "{\"type\":\"database_change\"}".getBytes(StandardCharsets.UTF_8);
        byte[] pong = "{\"type\":\"pong\"}".getBytes(StandardCharsets.UTF_8);
        session.next(new Outbound.Frame("database_change", change, "c1", Instant.now()),
                new Outbound.Frame("pong", pong, null, null));
        assertThat(channel.outboundMessages()).as("nothing is flushed within the loop's task").isEmpty();

        loop.runPendingTasks();
        assertThat(written(channel)).isEqualTo(concat(nettyEncoding(change), nettyEncoding(pong)));
        assertThat(throughTheEncoder).as("frames skip the pipeline above the encoder").isEmpty();

        session.next(new Outbound.Close(4003, "access revoked"));
        session.complete();
        loop.runPendingTasks();
        assertThat(close.get()).isEqualTo(new Outbound.Close(4003, "access revoked"));
        assertThat(finished).isTrue();
        channel.finishAndReleaseAll();
    }

    @Test
    void aSocketAboveItsHighWaterMarkIsAskedForNoMoreFramesUntilItsWritesReachIt() {
        EmbeddedChannel channel = new EmbeddedChannel(new WebSocket13FrameEncoder(false));
        channel.config().setWriteBufferWaterMark(new WriteBufferWaterMark(1, 2));
        SocketWriter writer = new SocketWriter(channel, new LoopBatch(loop.eventLoop()), metrics);
        TestPublisher<Outbound> session = TestPublisher.create();
        writer.write(session.flux()).subscribe();
        session.assertMinRequested(SocketWriter.PREFETCH);

        int half = SocketWriter.PREFETCH / 2;
        for (int i = 0; i < half; i++) {
            session.next(new Outbound.Frame("pong", ("{\"n\":" + i + "}").getBytes(StandardCharsets.UTF_8), null, null));
        }
        // Not flushed yet, the frames hold the channel above its mark: the writer asks for nothing more.
        assertThat(channel.isWritable()).isFalse();
        session.assertMaxRequested(SocketWriter.PREFETCH - half);

        loop.runPendingTasks();
        assertThat(channel.outboundMessages()).hasSize(half);
        session.assertMinRequested(SocketWriter.PREFETCH);
        channel.finishAndReleaseAll();
    }

    @Test
    void theEncodingSharedByALoopsSocketsIsFreedOnceTheirWritesAreDone() {
        EmbeddedChannel channel = new EmbeddedChannel();
        LoopBatch batch = new LoopBatch(channel.eventLoop());
        byte[] change = "{\"type\":\"database_change\"}".getBytes(StandardCharsets.UTF_8);
        ByteBuf toFirstSocket = batch.encoded(change, ByteBufAllocator.DEFAULT);
        ByteBuf toSecondSocket = batch.encoded(change, ByteBufAllocator.DEFAULT);
        // Duplicates share their buffer's count: one encoding, held by the batch and by both writes.
        assertThat(toSecondSocket.refCnt()).as("one encoding for both").isEqualTo(3);

        batch.run(); // the loop's turn ends
        toFirstSocket.release(); // as each socket's write does
        toSecondSocket.release();
        assertThat(toFirstSocket.refCnt()).isZero();
        channel.finishAndReleaseAll();
    }

    /**
     * A loop keeping up flushes its sockets {@value LoopBatch#CHUNK} at a time inside the task that
     * writes a change to them: the first sessions have it before the last is written to.
     */
    @Test
    void aLoopKeepingUpFlushesAChunkOfSocketsAtATimeWithinItsTask() throws Exception {
        DefaultEventLoop eventLoop = new DefaultEventLoop();
        try {
            LoopBatch batch = new LoopBatch(eventLoop);
            List<EmbeddedChannel> sockets = sockets(LoopBatch.CHUNK + 1);
            List<Integer> flushedWithinTheTask = eventLoop.submit(() -> {
                writeChangeTo(sockets, batch);
                return sockets.stream().map(socket -> socket.outboundMessages().size()).toList();
            }).get(5, TimeUnit.SECONDS);
            assertThat(flushedWithinTheTask.subList(0, LoopBatch.CHUNK)).as("the first chunk").containsOnly(1);
            assertThat(flushedWithinTheTask.get(LoopBatch.CHUNK)).as("the one after it, not yet").isZero();

            eventLoop.submit(() -> { }).get(5, TimeUnit.SECONDS); // the turn's end has run
            assertThat(sockets).allSatisfy(socket -> assertThat(socket.outboundMessages()).hasSize(1));
            sockets.forEach(EmbeddedChannel::finishAndReleaseAll);
        } finally {
            eventLoop.shutdownGracefully(0, 5, TimeUnit.SECONDS);
        }
    }

    /**
     * A loop with work already waiting (the next change) is behind: its sockets are flushed once, when
     * the turn ends, so one flush carries every change written to a socket meanwhile.
     */
    @Test
    void aLoopThatIsBehindFlushesOnlyWhenItsTurnEnds() throws Exception {
        DefaultEventLoop eventLoop = new DefaultEventLoop();
        try {
            LoopBatch batch = new LoopBatch(eventLoop);
            List<EmbeddedChannel> sockets = sockets(LoopBatch.CHUNK * 2);
            CountDownLatch nextChange = new CountDownLatch(1);
            int flushedWithinTheTask = eventLoop.submit(() -> {
                eventLoop.execute(nextChange::countDown); // waits behind this task
                writeChangeTo(sockets, batch);
                return sockets.stream().mapToInt(socket -> socket.outboundMessages().size()).sum();
            }).get(5, TimeUnit.SECONDS);
            assertThat(flushedWithinTheTask).isZero();

            assertThat(nextChange.await(5, TimeUnit.SECONDS)).isTrue();
            eventLoop.submit(() -> { }).get(5, TimeUnit.SECONDS);
            assertThat(sockets).allSatisfy(socket -> assertThat(socket.outboundMessages()).hasSize(1));
            sockets.forEach(EmbeddedChannel::finishAndReleaseAll);
        } finally {
            eventLoop.shutdownGracefully(0, 5, TimeUnit.SECONDS);
        }
    }

    private static List<EmbeddedChannel> sockets(int count) {
        List<EmbeddedChannel> sockets = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            sockets.add(new EmbeddedChannel(new WebSocket13FrameEncoder(false)));
        }
        return sockets;
    }

    /** One change written at once to every socket, as the hub's task does on the session's loop. */
    private void writeChangeTo(List<EmbeddedChannel> sockets, LoopBatch batch) {
        byte[] change = "{\"type\":\"database_change\"}".getBytes(StandardCharsets.UTF_8);
        for (EmbeddedChannel socket : sockets) {
            SocketWriter writer = new SocketWriter(socket, batch, metrics);
            writer.write(new Outbound.Frame("database_change", change, "c1", Instant.now()));
        }
    }

    /** The frame written below the encoder is byte for byte what Netty's own server encoder makes. */
    @Test
    void aTextFrameIsEncodedAsNettysServerEncoderEncodesIt() {
        for (int length : new int[] {0, 1, 125, 126, 127, 600, 65_535, 65_536, 70_000}) {
            byte[] payload = new byte[length];
            Arrays.fill(payload, (byte) 'x');
            ByteBuf ours = LoopBatch.textFrame(payload, ByteBufAllocator.DEFAULT);
            ByteBuf netty = nettyEncoding(payload);
            assertThat(ByteBufUtil.equals(ours, netty)).as("frame of %d bytes", length).isTrue();
            ours.release();
            netty.release();
        }
    }

    private static byte[] written(EmbeddedChannel channel) {
        ByteBuf all = Unpooled.buffer();
        for (Object part; (part = channel.readOutbound()) != null; ) {
            all.writeBytes((ByteBuf) part);
            ((ByteBuf) part).release();
        }
        return bytesOf(all);
    }

    private static byte[] concat(ByteBuf first, ByteBuf second) {
        return bytesOf(Unpooled.wrappedBuffer(first, second));
    }

    private static byte[] bytesOf(ByteBuf buffer) {
        try {
            return ByteBufUtil.getBytes(buffer);
        } finally {
            buffer.release();
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
