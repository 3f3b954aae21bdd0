package io.fluxgate.changes.transport;

import java.util.ArrayList;
import java.util.List;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.SingleThreadEventExecutor;

/**
 * What the sockets of one event loop share (touched on the loop only): the frame encoded in this
 * turn, and the flushes. The encoding lasts until the turn's task is done: an event reaches all of a
 * loop's sessions in one task, and a pooled buffer is not kept idle.
 *
 * <p>Sockets written to are flushed {@value #CHUNK} at a time as the task goes, so the first of a
 * loop's sessions get a change while the loop still writes it to the last (one flush per socket per
 * change, as a plain broadcaster does). When other work already waits on the loop (the next change,
 * say), the loop is behind: flushes then wait for the end of the turn, and one flush per socket carries
 * every change written to it meanwhile, which is what lets a loop catch up.
 */
final class LoopBatch implements Runnable {

    /** Sockets written to between two flushes while the loop keeps up. */
    static final int CHUNK = 64;

    private final EventLoop loop;
    private List<SocketWriter> dirty = new ArrayList<>();
    /** The list flushed last, reused for the next flush: no list allocated per change. */
    private List<SocketWriter> spare = new ArrayList<>();
    private boolean scheduled;
    private byte[] lastJson;
    private ByteBuf lastEncoded;

    LoopBatch(EventLoop loop) {
        this.loop = loop;
    }

    /**
     * {@code json} as a WebSocket text frame, for one write (which releases it). The frame an
     * event's sessions share is encoded once per loop and written to each of them.
     */
    ByteBuf encoded(byte[] json, ByteBufAllocator allocator) {
        if (json != lastJson) {
            forgetEncoded();
            lastEncoded = textFrame(json, allocator);
            lastJson = json;
        }
        return lastEncoded.retainedDuplicate();
    }

    private void forgetEncoded() {
        if (lastEncoded != null) {
            lastEncoded.release();
            lastEncoded = null;
            lastJson = null;
        }
    }

    void add(SocketWriter writer) {
        dirty.add(writer);
        if (!scheduled) {
            scheduled = true;
            loop.execute(this);
        }
        // Checked once a chunk: the loop's queue is a cache line other threads write.
        if (dirty.size() % CHUNK == 0 && !behind()) {
            flushDirty();
        }
    }

    /** Work other than this batch's own flush task waits on the loop. */
    private boolean behind() {
        return loop instanceof SingleThreadEventExecutor executor && executor.pendingTasks() > 1;
    }

    /** Every encoding is followed by a write, so by this run: it ends the turn. */
    @Override
    public void run() {
        scheduled = false;
        forgetEncoded();
        flushDirty();
    }

    private void flushDirty() {
        // A flush may complete writes whose listeners write again: they go into a list of their own
        // (a new one if a flush runs inside this one), flushed next.
        List<SocketWriter> batch = dirty;
        dirty = spare != null ? spare : new ArrayList<>();
        spare = null;
        for (SocketWriter writer : batch) {
            writer.flushBatched();
        }
        batch.clear();
        spare = batch;
    }

    /** A final, unmasked WebSocket text frame (RFC 6455 5.2), as a server sends it. */
    static ByteBuf textFrame(byte[] payload, ByteBufAllocator allocator) {
        int length = payload.length;
        int header = length <= 125 ? 2 : length <= 0xFFFF ? 4 : 10;
        ByteBuf frame = allocator.directBuffer(header + length);
        frame.writeByte(0x81);
        if (length <= 125) {
            frame.writeByte(length);
        } else if (length <= 0xFFFF) {
            frame.writeByte(126);
            frame.writeShort(length);
        } else {
            frame.writeByte(127);
            frame.writeLong(length);
        }
        return frame.writeBytes(payload);
    }
}
